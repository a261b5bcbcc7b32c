package ctr.flink;

import java.util.HashMap;
import java.util.Map;

import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.table.functions.FunctionContext;
import org.apache.flink.table.functions.ScalarFunction;

/**
 * {@code ctr_campaign_gauge(campaign_id, ctr)}: keeps the CTR of each campaign's latest window in a
 * Flink gauge, {@code campaign.ctr} with the campaign as a label (Prometheus:
 * {@code flink_taskmanager_job_task_operator_campaign_ctr{campaign="..."}}), and returns it.
 */
public final class CampaignCtrGauge extends ScalarFunction {

    private transient MetricGroup group;
    private transient Map<String, double[]> latest;

    @Override
    public void open(FunctionContext context) {
        group = context.getMetricGroup();
        latest = new HashMap<>();
    }

    public Double eval(String campaignId, Double ctr) {
        if (campaignId == null || ctr == null) {
            return ctr;
        }
        double[] value = latest.get(campaignId);
        if (value == null) {
            double[] created = new double[1];
            group.addGroup("campaign", campaignId).gauge("ctr", (Gauge<Double>) () -> created[0]);
            latest.put(campaignId, created);
            value = created;
        }
        value[0] = ctr;
        return ctr;
    }

    @Override
    public boolean isDeterministic() {
        return false;
    }
}
