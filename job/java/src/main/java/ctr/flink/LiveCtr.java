package ctr.flink;

import java.io.IOException;
import java.io.Serializable;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import org.apache.flink.api.common.TaskInfo;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.api.java.tuple.Tuple4;
import org.apache.flink.runtime.state.FunctionInitializationContext;
import org.apache.flink.runtime.state.FunctionSnapshotContext;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyGroupRangeAssignment;
import org.apache.flink.streaming.api.TimeDomain;
import org.apache.flink.streaming.api.TimerService;
import org.apache.flink.streaming.api.checkpoint.CheckpointedFunction;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.types.Row;
import org.apache.flink.util.Collector;

/**
 * The live CTR rows: per campaign and tumbling window, while the window is open, a row with its
 * impressions, clicked impressions and CTR so far ({@code final} false), at most once per update
 * interval and only when they changed; when the watermark closes the window, one row with its
 * final counts ({@code final} true), the counts of the window's row of the job's SQL.
 *
 * <p>Its input is {@link ClickFlags#counts}: counts to add per (campaign, window start), which
 * add up to the window's flag rows. A window closes as a SQL tumbling window does, when the
 * watermark reaches its end - 1.
 *
 * <p>Monotone across a restore: after a failure the job goes back to its last checkpoint, whose
 * counts are below the live rows written after it. So a restored subtask first reads the live
 * topic ({@link LiveFloors}) and holds each of its windows' last row there as a floor: it writes
 * no live row of that window below the floor (none at all when the floor is a final row), only
 * the final row when the window closes. It reads the rows appended since the restored checkpoint
 * was taken (less {@link #READ_MARGIN_MS}), or since the floors it still held then were read: the
 * rows before are below the checkpoint's counts.
 */
public final class LiveCtr {

    /** The type of the rows {@link #rows} emits. */
    public static final TypeInformation<Row> LIVE_TYPE =
            Types.ROW_NAMED(
                    new String[] {
                        "campaign_id", "window_start", "window_end", "impressions", "clicks", "ctr", "final"
                    },
                    Types.STRING,
                    Types.STRING,
                    Types.STRING,
                    Types.LONG,
                    Types.LONG,
                    Types.DOUBLE,
                    Types.BOOLEAN);

    /** The key of a window: (campaign, window start). */
    static final TypeInformation<Tuple2<String, Long>> WINDOW_TYPE = Types.TUPLE(Types.STRING, Types.LONG);

    /**
     * How much earlier than a checkpoint a restore starts reading the live topic: room for the
     * clocks of the TaskManagers that stamped the rows (their records' create times) and for a row
     * sent a little after it was emitted.
     */
    static final long READ_MARGIN_MS = 60_000;

    private LiveCtr() {}

    /**
     * The live and final rows of the tumbling windows of {@code windowMs} whose counts are
     * {@code counts} ({@link ClickFlags#counts} of the same window size): {@code window_start} and
     * {@code window_end} in UTC with the {@link DateTimeFormatter} pattern {@code timePattern}, a
     * live row per changed window at most every {@code updateIntervalMs}. A restored subtask reads
     * the topic {@code liveTopic} at {@code bootstrapServers}, where the rows are written as JSON,
     * for its floors. The operator's uid is fixed, {@code ctr-live-ctr}.
     */
    public static SingleOutputStreamOperator<Row> rows(
            DataStream<Tuple4<String, Long, Long, Long>> counts,
            long windowMs,
            long updateIntervalMs,
            String timePattern,
            String bootstrapServers,
            String liveTopic) {
        LiveFloors floors = new LiveFloors(bootstrapServers, liveTopic, timePattern);
        return counts.keyBy(count -> Tuple2.of(count.f0, count.f1), WINDOW_TYPE)
                .process(new LiveRows(windowMs, updateIntervalMs, timePattern, floors), LIVE_TYPE)
                .name("live ctr")
                .uid("ctr-live-ctr");
    }

    /** A window's last row on the live topic: no live row below it is written again. */
    record Floor(long impressions, long clicks, boolean isFinal) {}

    /** Where a restored {@link LiveRows} finds its floors. */
    @FunctionalInterface
    interface FloorSource extends Serializable {
        /**
         * The last row per window among the records stamped {@code sinceMs} (epoch ms) or later, all
         * of them with {@code Long.MIN_VALUE}, keyed by (campaign, window start); empty when they
         * cannot be read.
         */
        Map<Tuple2<String, Long>, Floor> read(long sinceMs);
    }

    /** What the operator holds per window. */
    public static final class WindowCounts {
        public long impressions;
        public long clicks;

        /** Whether the counts changed since the window's last live row. */
        public boolean dirty;

        public WindowCounts() {}
    }

    /**
     * The keyed function, keyed by (campaign, window start): a processing-time timer at the next
     * update-interval boundary when a window changes, an event-time timer at its end - 1. The
     * floors are kept in memory by window start, and dropped as the watermark closes their windows.
     */
    static final class LiveRows
            extends KeyedProcessFunction<Tuple2<String, Long>, Tuple4<String, Long, Long, Long>, Row>
            implements CheckpointedFunction {
        private final long windowMs;
        private final long updateIntervalMs;
        private final String timePattern;
        private final FloorSource floorSource;
        private transient ValueState<WindowCounts> state;
        private transient TreeMap<Long, HashMap<String, Floor>> floors;
        /** Since when (epoch ms) the floors held were read: {@code Long.MIN_VALUE}, the whole topic. */
        private transient long floorsReadFrom;
        /** Each subtask's time from which a restore of its last checkpoint reads the live topic. */
        private transient ListState<Long> readFrom;
        private transient DateTimeFormatter format;

        LiveRows(long windowMs, long updateIntervalMs, String timePattern, FloorSource floorSource) {
            this.windowMs = windowMs;
            this.updateIntervalMs = updateIntervalMs;
            this.timePattern = timePattern;
            this.floorSource = floorSource;
        }

        @Override
        public void initializeState(FunctionInitializationContext context) throws Exception {
            state =
                    context.getKeyedStateStore()
                            .getState(new ValueStateDescriptor<>("counts", TypeInformation.of(WindowCounts.class)));
            readFrom =
                    context.getOperatorStateStore()
                            .getUnionListState(new ListStateDescriptor<>("live-topic-read-from", Types.LONG));
            floors = new TreeMap<>();
            floorsReadFrom = RestoredTimes.lowest(readFrom, Long.MIN_VALUE);
            if (context.isRestored()) {
                hold(floorSource.read(floorsReadFrom));
            }
        }

        /** Keeps the floors of the windows this subtask owns. */
        private void hold(Map<Tuple2<String, Long>, Floor> read) {
            TaskInfo task = getRuntimeContext().getTaskInfo();
            int maxParallelism = task.getMaxNumberOfParallelSubtasks();
            KeyGroupRange owned =
                    KeyGroupRangeAssignment.computeKeyGroupRangeForOperatorIndex(
                            maxParallelism, task.getNumberOfParallelSubtasks(), task.getIndexOfThisSubtask());
            read.forEach(
                    (window, floor) -> {
                        if (owned.contains(KeyGroupRangeAssignment.assignToKeyGroup(window, maxParallelism))) {
                            floors.computeIfAbsent(window.f1, ignored -> new HashMap<>()).put(window.f0, floor);
                        }
                    });
        }

        /**
         * The floors are not state, a restore reads them again: from where they were read while some
         * are held, else from about now, when the checkpoint's counts are as high as every row sent.
         */
        @Override
        public void snapshotState(FunctionSnapshotContext context) throws Exception {
            readFrom.update(List.of(floors.isEmpty() ? System.currentTimeMillis() - READ_MARGIN_MS : floorsReadFrom));
        }

        @Override
        public void open(OpenContext context) {
            format = DateTimeFormatter.ofPattern(timePattern).withZone(ZoneOffset.UTC);
        }

        @Override
        public void processElement(
                Tuple4<String, Long, Long, Long> delta, Context context, Collector<Row> out) throws IOException {
            TimerService timers = context.timerService();
            WindowCounts counts = state.value();
            if (counts == null) {
                counts = new WindowCounts();
                timers.registerEventTimeTimer(delta.f1 + windowMs - 1);
            }
            counts.impressions += delta.f2;
            counts.clicks += delta.f3;
            if (!counts.dirty) {
                counts.dirty = true;
                long now = timers.currentProcessingTime();
                timers.registerProcessingTimeTimer((now / updateIntervalMs + 1) * updateIntervalMs);
            }
            state.update(counts);
        }

        @Override
        public void onTimer(long timestamp, OnTimerContext context, Collector<Row> out) throws IOException {
            WindowCounts counts = state.value();
            if (counts == null) {
                return;
            }
            if (context.timeDomain() == TimeDomain.EVENT_TIME) {
                close(timestamp, context.getCurrentKey(), counts, out);
            } else if (counts.dirty) {
                update(context.getCurrentKey(), counts, out);
            }
        }

        /**
         * The window's end - 1 has come: its final row; then it is forgotten, and so are the floors
         * of the windows closed by now.
         */
        private void close(long at, Tuple2<String, Long> window, WindowCounts counts, Collector<Row> out) {
            out.collect(row(window, counts, true));
            state.clear();
            floors.headMap(at - windowMs + 1, true).clear();
        }

        /** The window's live row, unless it would be below its floor. */
        private void update(Tuple2<String, Long> window, WindowCounts counts, Collector<Row> out) throws IOException {
            counts.dirty = false;
            state.update(counts);
            if (reachesFloor(window, counts)) {
                out.collect(row(window, counts, false));
            }
        }

        /** Whether the counts are not below the window's floor, if it has one: a floor reached is dropped. */
        private boolean reachesFloor(Tuple2<String, Long> window, WindowCounts counts) {
            HashMap<String, Floor> starting = floors.get(window.f1);
            Floor floor = starting == null ? null : starting.get(window.f0);
            if (floor == null) {
                return true;
            }
            if (floor.isFinal() || counts.impressions < floor.impressions() || counts.clicks < floor.clicks()) {
                return false;
            }
            starting.remove(window.f0);
            if (starting.isEmpty()) {
                floors.remove(window.f1);
            }
            return true;
        }

        private Row row(Tuple2<String, Long> window, WindowCounts counts, boolean isFinal) {
            long start = window.f1;
            return Row.of(
                    window.f0,
                    format.format(Instant.ofEpochMilli(start)),
                    format.format(Instant.ofEpochMilli(start + windowMs)),
                    counts.impressions,
                    counts.clicks,
                    (double) counts.clicks / counts.impressions,
                    isFinal);
        }
    }
}
