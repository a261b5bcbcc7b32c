# ctr — one entry point for setting up, running and testing the pipeline.
# `make demo` and `make test` work on a fresh machine: they create .venv and install what they need.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_ARGS ?=
PYTEST_ARGS ?=

# The Kubernetes path: one tag for the three images, passed to the chart as images.tag. It names
# the content (tools/image_tag.sh: the commit, -dirty-<hash> with uncommitted changes), so that a
# rebuilt image gets a new tag and a deploy rolls the pods onto it.
ifeq ($(origin IMAGE_TAG),undefined)
IMAGE_TAG := $(shell sh tools/image_tag.sh)
endif
JOB_IMAGE := ctr-job:$(IMAGE_TAG)
PRODUCER_IMAGE := ctr-producer:$(IMAGE_TAG)
OPERATOR_IMAGE := ctr-operator:$(IMAGE_TAG)
KIND_CLUSTER ?= ctr
NAMESPACE ?= default
RELEASE ?= ctr
# Images are built for this machine's platform (linux/amd64 or linux/arm64, as kind runs them).
PLATFORM ?= linux/$(subst x86_64,amd64,$(subst aarch64,arm64,$(shell uname -m)))
# The Flink operator's chart repository (helm/Chart.yaml's; Strimzi's is OCI and needs no `helm repo add`).
FLINK_OPERATOR_REPO := https://archive.apache.org/dist/flink/flink-kubernetes-operator-1.15.0/
WAIT ?= 10m
HELM_ARGS ?=

need = @command -v $(1) >/dev/null 2>&1 || { echo "$(1) is missing: $(2)"; exit 1; }
NEED_MAVEN = $(call need,mvn,Maven builds the job's Java module (Debian/Ubuntu: apt-get install maven))

# The job's Java module: ctr's classes and the connector jars it copies into target/lib.
JAVA_MODULE := job/java
JAVA_JAR := $(JAVA_MODULE)/target/ctr-flink.jar
JAVA_INPUTS := $(JAVA_MODULE)/pom.xml $(JAVA_MODULE)/jars.sha256 $(JAVA_MODULE)/VerifyJars.java \
	$(shell find $(JAVA_MODULE)/src -type f)

.PHONY: help setup demo test test-java test-fast bench broker generate helm-docs clean kind-up kind-down images image-tag docker-tools kind-tools deploy undeploy results lint format

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | column -t -s "$$(printf '\t')"

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# Built once, again when the pom, the pinned checksums or a source changes (make test runs its JUnit tests).
$(JAVA_JAR): $(JAVA_INPUTS)
	$(NEED_MAVEN)
	@command -v javac >/dev/null || { echo "a JDK 17 is missing (Maven compiles the job's Java module with it): apt-get install -y openjdk-17-jdk-headless"; exit 1; }
	mvn -q -B -DskipTests -f $(JAVA_MODULE) package
	touch $@

setup: $(BIN)/.installed $(JAVA_JAR) ## create .venv with ctr and everything the tests need; build the job's Java module

demo: setup ## run the producer and the CTR job on this machine against a local Apache Kafka (DEMO_ARGS="--duration 2m")
	$(BIN)/ctr demo $(DEMO_ARGS)

test: setup test-java ## run the whole test suite: the Java module's JUnit tests, then pytest, slow tests included
	$(BIN)/pytest $(PYTEST_ARGS)

test-java: ## run the Java module's JUnit tests (Flink's operator test harnesses)
	$(NEED_MAVEN)
	mvn -B -ntp -f $(JAVA_MODULE) test

test-fast: setup ## run the tests that start no broker, JVM or cluster (under 2 minutes)
	$(BIN)/pytest -m "not slow and not broker and not jvm and not cluster" $(PYTEST_ARGS)

broker: setup ## run the local Apache Kafka broker in the foreground (Ctrl-C stops it)
	$(BIN)/ctr broker

bench: setup ## run the benchmarks (producer, job, soak, broker, live: about 55 minutes) and record the figures in docs/benchmarks.md
	$(BIN)/python bench/producer.py
	$(BIN)/python bench/job.py
	$(BIN)/python bench/soak.py
	$(BIN)/python bench/broker.py
	$(BIN)/python bench/live.py

generate: setup ## regenerate the Producer CRD and the chart's values schema blocks from ctr's settings
	$(BIN)/python tools/generate.py

image-tag: ## print the tag `make images` gives the images (for `helm install --set images.tag=...`)
	@echo $(IMAGE_TAG)

images: docker-tools ## build the job, producer and operator images for this machine's platform
	docker build --platform $(PLATFORM) -f job/Dockerfile -t $(JOB_IMAGE) .
	docker build --platform $(PLATFORM) -f producer/Dockerfile -t $(PRODUCER_IMAGE) .
	docker build --platform $(PLATFORM) -f operator/Dockerfile -t $(OPERATOR_IMAGE) .

# Docker with buildx (the job image's Dockerfile needs BuildKit's features).
docker-tools:
	$(call need,docker,install Docker: https://docs.docker.com/get-docker/)
	@docker buildx version >/dev/null 2>&1 || { echo "docker buildx is missing (the job image's Dockerfile needs BuildKit): install the Docker Buildx plugin: https://docs.docker.com/go/buildx/"; exit 1; }

# Every tool kind-up needs, checked before anything is built.
kind-tools: docker-tools
	$(call need,kind,install kind v0.29.0 or later: https://kind.sigs.k8s.io/docs/user/quick-start/#installation)
	$(call need,helm,install Helm 3: https://helm.sh/docs/intro/install/)
	$(call need,kubectl,install kubectl: https://kubernetes.io/docs/tasks/tools/)

kind-up: kind-tools ## create the kind cluster (or reuse it), build and load the images, build the chart's dependencies; safe to repeat
	$(MAKE) --no-print-directory images IMAGE_TAG=$(IMAGE_TAG)
	if kind get clusters | grep -qx $(KIND_CLUSTER); then kind export kubeconfig --name $(KIND_CLUSTER); \
	else kind create cluster --config kind-config.yaml --name $(KIND_CLUSTER); fi
	kind load docker-image --name $(KIND_CLUSTER) $(JOB_IMAGE) $(PRODUCER_IMAGE) $(OPERATOR_IMAGE)
	helm repo add flink-operator-1.15.0 $(FLINK_OPERATOR_REPO) --force-update
	helm dependency build helm

kind-down: ## delete the kind cluster
	$(call need,kind,install kind: https://kind.sigs.k8s.io/docs/user/quick-start/#installation)
	kind delete cluster --name $(KIND_CLUSTER)

deploy: ## install or upgrade the chart into $(NAMESPACE) with the images' tag (HELM_ARGS="-f helm/values-small.yaml")
	$(call need,helm,install Helm 3: https://helm.sh/docs/intro/install/)
	helm upgrade --install $(RELEASE) ./helm --namespace $(NAMESPACE) --create-namespace --set images.tag=$(IMAGE_TAG) $(HELM_ARGS)

# Custom resources go first, while the operators that hold their finalizers still run: Producers
# (the producer operator), the FlinkDeployment (the Flink operator), the KafkaTopics and the Kafka
# (Strimzi). Each delete waits until the objects are gone; then Helm removes the rest.
undeploy: ## uninstall the chart: its custom resources first (and wait), then the release
	$(call need,helm,install Helm 3: https://helm.sh/docs/intro/install/)
	$(call need,kubectl,install kubectl: https://kubernetes.io/docs/tasks/tools/)
	-kubectl delete producers --all --namespace $(NAMESPACE) --wait --timeout $(WAIT)
	-kubectl delete flinkdeployments,kafkatopics --namespace $(NAMESPACE) --selector app.kubernetes.io/instance=$(RELEASE) --wait --timeout $(WAIT)
	-kubectl delete kafkas,kafkanodepools --namespace $(NAMESPACE) --selector app.kubernetes.io/instance=$(RELEASE) --wait --timeout $(WAIT)
	-helm uninstall $(RELEASE) --namespace $(NAMESPACE) --wait

results: ## print the committed CTR results from the cluster's volume as CSV
	$(call need,kubectl,install kubectl: https://kubernetes.io/docs/tasks/tools/)
	kubectl exec --namespace $(NAMESPACE) deploy/$(RELEASE)-job -- ctr results /flink-data/results --format csv

lint: setup ## ruff, mypy, the import layers, hadolint, helm lint --strict and the whole release checked offline
	$(BIN)/pytest tests/test_style.py tests/test_helm.py tests/test_release.py tests/test_images.py tests/test_makefile.py $(PYTEST_ARGS)

format: setup ## format the code and apply ruff's safe fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

helm-docs: setup ## regenerate the parameters table of helm/README.md from helm/values.yaml
	$(BIN)/python tools/helm_values_table.py

clean: ## remove the virtualenv and local run data
	rm -rf $(VENV) .run
