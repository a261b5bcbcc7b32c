package ctr.flink;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import org.apache.flink.api.common.functions.FlatMapFunction;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.api.java.tuple.Tuple4;
import org.apache.flink.api.java.tuple.Tuple5;
import org.apache.flink.api.java.typeutils.ResultTypeQueryable;
import org.apache.flink.metrics.Counter;
import org.apache.flink.runtime.state.StateInitializationContext;
import org.apache.flink.runtime.state.StateSnapshotContext;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.operators.AbstractStreamOperator;
import org.apache.flink.streaming.api.operators.TwoInputStreamOperator;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.runtime.tasks.ProcessingTimeService;
import org.apache.flink.table.api.Table;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;
import org.apache.flink.table.data.RowData;
import org.apache.flink.types.Row;
import org.apache.flink.util.Collector;
import org.apache.flink.util.OutputTag;

/**
 * One row per impression with a clicked flag: the CTR job's join of impressions and clicks, as one
 * keyed operator instead of the SQL interval join and {@code COUNT(DISTINCT ...)} windows.
 *
 * <p>Keyed by {@code impr_id}, it holds per impression its campaign, time and clicked flag (and,
 * for a click that comes before its impression, the click's time) in one state entry, due when the
 * watermark passes the impression's time plus the join bound (see {@link FlagsOperator} for how it
 * finds what is due). A click counts when its time is within [impression time, impression time +
 * join bound]; the first impression of an id wins and a click counts once. When the watermark passes the
 * impression's time plus the join bound, no on-time click can still come: the operator emits
 * {@code (campaign_id, ts, clicked)} and forgets the id. Its output watermark is held back by the
 * join bound, so that the rows it emits are on time for the tumbling windows after it.
 *
 * <p>Lateness follows the watermark as in the interval join: a click is kept for an impression
 * still to come while the watermark has not passed the click; an impression whose click interval
 * the watermark has already passed when it arrives is late and not counted (so a copy of an impression
 * that was already emitted is never counted twice), and so is a click that comes when the watermark
 * has passed it and its impression is not held (already emitted, late itself, or never shown). Each
 * late event increments the operator's counter {@code lateImpressions} or {@code lateClicks} and goes
 * to the side output {@link #LATE_IMPRESSIONS} or {@link #LATE_CLICKS} as a dead letter with reason
 * {@code late}: its Kafka partition and offset, no payload (the message is still on its topic there).
 *
 * <p>Input rows are the job's converted source rows (job/ctr_job/sql.py selects them in this
 * order): impressions {@code (impr_id, campaign_id, ts, reason, payload, kafka_partition,
 * kafka_offset)}, clicks {@code (impr_id, ts, reason, payload, kafka_partition, kafka_offset)}; a
 * row with a {@code reason} is malformed and goes to the dead-letter topic instead.
 *
 * <p>Given a count window, the operator also counts what its rows will say while they are still
 * held: per campaign and tumbling window of the impression's time, +1 impression when it accepts an
 * impression and +1 click when that impression is or becomes clicked, by the same rule as the
 * clicked flag (so the counts of a window add up to its flag rows). It sends them pre-aggregated to
 * the side output {@link #COUNTS} ({@link #counts}), for the live rows of {@link LiveCtr}.
 */
public final class ClickFlags {

    public static final int IMPRESSION_ID = 0;
    public static final int IMPRESSION_CAMPAIGN = 1;
    public static final int IMPRESSION_TS = 2;
    public static final int IMPRESSION_REASON = 3;
    public static final int IMPRESSION_PARTITION = 5;
    public static final int IMPRESSION_OFFSET = 6;
    public static final int CLICK_ID = 0;
    public static final int CLICK_TS = 1;
    public static final int CLICK_REASON = 2;
    public static final int CLICK_PARTITION = 4;
    public static final int CLICK_OFFSET = 5;

    /** The reason of a late event's dead letter. */
    public static final String LATE = "late";

    /** The type of a late event's dead letter: the columns the job's dead-letter INSERT reads. */
    public static final TypeInformation<Row> LATE_TYPE =
            Types.ROW_NAMED(
                    new String[] {"kafka_partition", "kafka_offset", "payload", "reason"},
                    Types.INT,
                    Types.LONG,
                    Types.STRING,
                    Types.STRING);

    /** The late impressions' dead letters, a side output of {@link #flags}. */
    public static final OutputTag<Row> LATE_IMPRESSIONS = new OutputTag<>("late-impressions", LATE_TYPE);

    /** The late clicks' dead letters, a side output of {@link #flags}. */
    public static final OutputTag<Row> LATE_CLICKS = new OutputTag<>("late-clicks", LATE_TYPE);

    /** The type of the rows {@link #flags} emits. */
    public static final TypeInformation<Row> FLAG_TYPE =
            Types.ROW_NAMED(
                    new String[] {"campaign_id", "ts", "clicked"},
                    Types.STRING,
                    Types.LONG,
                    Types.BOOLEAN);

    /** The type of the counts {@link #flags} sends: {@code (campaign_id, window_start, impressions, clicks)}. */
    public static final TypeInformation<Tuple4<String, Long, Long, Long>> COUNT_TYPE =
            Types.TUPLE(Types.STRING, Types.LONG, Types.LONG, Types.LONG);

    /**
     * The counts of the impressions and clicks accepted since the last ones sent, per campaign and
     * window start: a side output of {@link #flags} given a count window, each record at its window's start.
     */
    public static final OutputTag<Tuple4<String, Long, Long, Long>> COUNTS =
            new OutputTag<>("click-counts", COUNT_TYPE);

    /** How often, in processing time at most, the operator sends the counts it has gathered. */
    public static final long FLUSH_MS = 100;

    private ClickFlags() {}

    /**
     * The valid impressions and clicks joined into one {@code (campaign_id, ts, clicked)} row per
     * impression; the late events are its side outputs ({@link #LATE_IMPRESSIONS}, {@link
     * #LATE_CLICKS}). With {@code countWindowMs > 0}, the operator also sends the counts of its
     * tumbling windows of that size to the side output {@link #COUNTS} ({@link #counts}); with 0 it
     * counts nothing.
     *
     * <p>Each operator has a fixed uid, so that a checkpoint maps onto the job at another parallelism
     * (Flink's generated ids depend on the chaining, which the parallelism changes).
     */
    public static SingleOutputStreamOperator<Row> flags(
            DataStream<RowData> impressions, DataStream<RowData> clicks, long joinBoundMs, long countWindowMs) {
        DataStream<Tuple5<String, String, Long, Integer, Long>> shown =
                impressions
                        .flatMap(new ValidImpressions())
                        .name("valid impressions")
                        .uid("ctr-valid-impressions");
        DataStream<Tuple4<String, Long, Integer, Long>> clicked =
                clicks.flatMap(new ValidClicks()).name("valid clicks").uid("ctr-valid-clicks");
        return shown.connect(clicked)
                .keyBy(impression -> impression.f0, click -> click.f0, Types.STRING)
                .transform("click flags", FLAG_TYPE, new FlagsOperator(joinBoundMs, countWindowMs))
                .uid("ctr-click-flags");
    }

    /**
     * The counts of {@link #flags}' operator, given a count window: {@code (campaign_id,
     * window_start, impressions, clicks)}.
     */
    public static DataStream<Tuple4<String, Long, Long, Long>> counts(SingleOutputStreamOperator<Row> flags) {
        return flags.getSideOutput(COUNTS);
    }

    /** The dead letters of the late impressions of {@link #flags}' operator. */
    public static DataStream<Row> lateImpressions(SingleOutputStreamOperator<Row> flags) {
        return flags.getSideOutput(LATE_IMPRESSIONS);
    }

    /** The dead letters of the late clicks of {@link #flags}' operator. */
    public static DataStream<Row> lateClicks(SingleOutputStreamOperator<Row> flags) {
        return flags.getSideOutput(LATE_CLICKS);
    }

    /**
     * The rows of a table as a DataStream of Flink's internal rows: no conversion to {@link Row}
     * (the fields are read once, by the operator or by the dead-letter sink).
     */
    public static DataStream<RowData> rows(StreamTableEnvironment tableEnv, Table table) {
        return tableEnv.toDataStream(
                table, table.getResolvedSchema().toPhysicalRowDataType().bridgedTo(RowData.class));
    }

    /** The malformed rows of a converted source (those with a reason), the dead letters of {@code source}. */
    public static DataStream<RowData> malformed(
            DataStream<RowData> events, int reasonField, String source) {
        return events.filter(row -> !row.isNullAt(reasonField))
                .name("malformed " + source)
                .uid("ctr-malformed-" + source);
    }

    /**
     * The valid impressions as compact (impr_id, campaign_id, ts, kafka_partition, kafka_offset)
     * tuples: cheap to send to their key, and enough for a late one's dead letter. Public for
     * bench/java's keyed-exchange ceiling, which sends the same tuples.
     */
    public static final class ValidImpressions
            implements FlatMapFunction<RowData, Tuple5<String, String, Long, Integer, Long>>,
                    ResultTypeQueryable<Tuple5<String, String, Long, Integer, Long>> {
        @Override
        public void flatMap(RowData row, Collector<Tuple5<String, String, Long, Integer, Long>> out) {
            if (row.isNullAt(IMPRESSION_REASON)) {
                out.collect(
                        Tuple5.of(
                                row.getString(IMPRESSION_ID).toString(),
                                row.getString(IMPRESSION_CAMPAIGN).toString(),
                                row.getLong(IMPRESSION_TS),
                                row.getInt(IMPRESSION_PARTITION),
                                row.getLong(IMPRESSION_OFFSET)));
            }
        }

        @Override
        public TypeInformation<Tuple5<String, String, Long, Integer, Long>> getProducedType() {
            return Types.TUPLE(Types.STRING, Types.STRING, Types.LONG, Types.INT, Types.LONG);
        }
    }

    /** The valid clicks as compact (impr_id, ts, kafka_partition, kafka_offset) tuples. */
    public static final class ValidClicks
            implements FlatMapFunction<RowData, Tuple4<String, Long, Integer, Long>>,
                    ResultTypeQueryable<Tuple4<String, Long, Integer, Long>> {
        @Override
        public void flatMap(RowData row, Collector<Tuple4<String, Long, Integer, Long>> out) {
            if (row.isNullAt(CLICK_REASON)) {
                out.collect(
                        Tuple4.of(
                                row.getString(CLICK_ID).toString(),
                                row.getLong(CLICK_TS),
                                row.getInt(CLICK_PARTITION),
                                row.getLong(CLICK_OFFSET)));
            }
        }

        @Override
        public TypeInformation<Tuple4<String, Long, Integer, Long>> getProducedType() {
            return Types.TUPLE(Types.STRING, Types.LONG, Types.INT, Types.LONG);
        }
    }

    /** What the operator holds per impression id: one state entry. */
    public static final class Pending {
        /** The impression's campaign; null while only clicks have come. */
        public String campaign;

        public long time;
        public boolean clicked;
        /** Times of clicks that came before their impression; null when there are none. */
        public long[] earlyClicks;

        public Pending() {}

        boolean clickedWithin(long from, long to) {
            if (earlyClicks == null) {
                return false;
            }
            for (long at : earlyClicks) {
                if (at >= from && at <= to) {
                    return true;
                }
            }
            return false;
        }
    }

    /**
     * The keyed operator: impressions on the first input, clicks on the second. Instead of a Flink
     * timer per impression (a heap entry and a dedup entry per key: a quarter of the operator's time,
     * measured), it keeps one in-memory queue of the ids by due time, ordered by a tree of due
     * milliseconds, and works it off as the watermark advances. The queue is an index of the keyed
     * state, not state of its own: after a restore it is rebuilt from the keyed state.
     *
     * <p>Its counts are gathered in an in-memory map and sent every {@link #FLUSH_MS} of processing
     * time, before each watermark (so that none is behind the watermark it forwards), before each
     * checkpoint barrier and at the end of input: the map is empty at every checkpoint, not state.
     *
     * <p>Its watermark is state too (Flink's are not: after a restore, every operator's starts from
     * nothing): an event that was late before a failure is late after the restore as well, so that a
     * replayed straggler neither counts in a window that was already final nor opens it again. Each
     * subtask keeps its own; a restored subtask takes the lowest of them (union state), the one that
     * was passed everywhere, and a watermark below it does not take it back.
     */
    static final class FlagsOperator extends AbstractStreamOperator<Row>
            implements TwoInputStreamOperator<
                    Tuple5<String, String, Long, Integer, Long>, Tuple4<String, Long, Integer, Long>, Row> {
        private final long joinBound;
        private final long countWindow;
        private transient ValueState<Pending> state;
        private transient TreeMap<Long, ArrayList<String>> due;
        private transient long watermark;
        /** The watermark of each subtask as of the last checkpoint. */
        private transient ListState<Long> watermarks;
        /** The operator's metric {@code lateImpressions}: impressions that came late, not counted. */
        transient Counter lateImpressions;

        /** The operator's metric {@code lateClicks}: clicks that came late, not counted. */
        transient Counter lateClicks;

        /** The counts not sent yet: {impressions, clicks} per (campaign, window start). */
        private transient HashMap<Tuple2<String, Long>, long[]> unsent;

        /** Whether a processing-time callback is due to send {@link #unsent}. */
        private transient boolean flushDue;

        /** Counts nothing when {@code countWindow} is 0. */
        FlagsOperator(long joinBound, long countWindow) {
            this.joinBound = joinBound;
            this.countWindow = countWindow;
        }

        @Override
        public void open() throws Exception {
            super.open();
            lateImpressions = getMetricGroup().counter("lateImpressions");
            lateClicks = getMetricGroup().counter("lateClicks");
            unsent = new HashMap<>();
        }

        /** Adds to the counts of the window of the impression at {@code time}, and has them sent soon. */
        private void count(String campaign, long time, long impressions, long clicks) {
            if (countWindow == 0) {
                return;
            }
            long start = time - Math.floorMod(time, countWindow);
            long[] counts = unsent.computeIfAbsent(Tuple2.of(campaign, start), ignored -> new long[2]);
            counts[0] += impressions;
            counts[1] += clicks;
            if (!flushDue) {
                flushDue = true;
                ProcessingTimeService clock = getProcessingTimeService();
                clock.registerTimer(clock.getCurrentProcessingTime() + FLUSH_MS, ignored -> onFlushDue());
            }
        }

        private void onFlushDue() {
            flushDue = false;
            flush();
        }

        /** Sends the counts gathered so far to {@link #COUNTS}. */
        private void flush() {
            for (Map.Entry<Tuple2<String, Long>, long[]> entry : unsent.entrySet()) {
                long start = entry.getKey().f1;
                long[] counts = entry.getValue();
                output.collect(
                        COUNTS, new StreamRecord<>(Tuple4.of(entry.getKey().f0, start, counts[0], counts[1]), start));
            }
            unsent.clear();
        }

        @Override
        public void prepareSnapshotPreBarrier(long checkpointId) throws Exception {
            super.prepareSnapshotPreBarrier(checkpointId);
            flush();
        }

        @Override
        public void finish() throws Exception {
            flush();
            super.finish();
        }

        /** Count a late event and send its dead letter to the side output {@code tag}. */
        private void late(Counter counter, OutputTag<Row> tag, int partition, long offset, long time) {
            counter.inc();
            output.collect(tag, new StreamRecord<>(Row.of(partition, offset, null, LATE), time));
        }

        @Override
        public void initializeState(StateInitializationContext context) throws Exception {
            super.initializeState(context);
            state =
                    getPartitionedState(
                            VoidNamespace.INSTANCE,
                            VoidNamespaceSerializer.INSTANCE,
                            new ValueStateDescriptor<>("impression", TypeInformation.of(Pending.class)));
            due = new TreeMap<>();
            watermarks =
                    context.getOperatorStateStore()
                            .getUnionListState(new ListStateDescriptor<>("watermark", Types.LONG));
            watermark = RestoredTimes.lowest(watermarks, Long.MIN_VALUE);
            if (!context.isRestored()) {
                return;
            }
            List<Object> keys;
            try (Stream<Object> stored =
                    getKeyedStateBackend().getKeys("impression", VoidNamespace.INSTANCE)) {
                keys = stored.collect(Collectors.toList());
            }
            for (Object key : keys) {
                setCurrentKey(key);
                Pending pending = state.value();
                if (pending != null) {
                    schedule(pending.campaign != null ? pending.time + joinBound : latest(pending), (String) key);
                }
            }
        }

        private static long latest(Pending pending) {
            long last = Long.MIN_VALUE;
            for (long at : pending.earlyClicks) {
                last = Math.max(last, at);
            }
            return last;
        }

        private void schedule(long at, String key) {
            due.computeIfAbsent(at, ignored -> new ArrayList<>(4)).add(key);
        }

        @Override
        public void processElement1(StreamRecord<Tuple5<String, String, Long, Integer, Long>> element)
                throws Exception {
            Tuple5<String, String, Long, Integer, Long> impression = element.getValue();
            Pending pending = state.value();
            if (pending != null && pending.campaign != null) {
                return;
            }
            long time = impression.f2;
            long until = time + joinBound;
            if (watermark >= until) {
                late(lateImpressions, LATE_IMPRESSIONS, impression.f3, impression.f4, time);
                return;
            }
            if (pending == null) {
                pending = new Pending();
            }
            pending.campaign = impression.f1;
            pending.time = time;
            pending.clicked = pending.clickedWithin(time, until);
            pending.earlyClicks = null;
            state.update(pending);
            schedule(until, impression.f0);
            count(pending.campaign, time, 1, pending.clicked ? 1 : 0);
        }

        @Override
        public void processElement2(StreamRecord<Tuple4<String, Long, Integer, Long>> element)
                throws Exception {
            Tuple4<String, Long, Integer, Long> click = element.getValue();
            long time = click.f1;
            Pending pending = state.value();
            if (pending != null && pending.campaign != null) {
                if (!pending.clicked && time >= pending.time && time <= pending.time + joinBound) {
                    pending.clicked = true;
                    state.update(pending);
                    count(pending.campaign, pending.time, 0, 1);
                }
                return;
            }
            if (time <= watermark) {
                late(lateClicks, LATE_CLICKS, click.f2, click.f3, time);
                return;
            }
            if (pending == null) {
                pending = new Pending();
                pending.earlyClicks = new long[] {time};
            } else {
                long[] times = Arrays.copyOf(pending.earlyClicks, pending.earlyClicks.length + 1);
                times[times.length - 1] = time;
                pending.earlyClicks = times;
            }
            state.update(pending);
            schedule(time, click.f0);
        }

        @Override
        public void snapshotState(StateSnapshotContext context) throws Exception {
            super.snapshotState(context);
            watermarks.update(List.of(watermark));
        }

        @Override
        public void processWatermark(Watermark mark) throws Exception {
            watermark = Math.max(watermark, mark.getTimestamp());
            while (!due.isEmpty() && due.firstKey() <= watermark) {
                Map.Entry<Long, ArrayList<String>> next = due.pollFirstEntry();
                for (String key : next.getValue()) {
                    setCurrentKey(key);
                    fire(next.getKey());
                }
            }
            flush();
            super.processWatermark(
                    new Watermark(watermark == Long.MAX_VALUE ? watermark : watermark - joinBound));
        }

        /** The due time {@code at} of the current key has come. */
        private void fire(long at) throws Exception {
            Pending pending = state.value();
            if (pending == null) {
                return;
            }
            if (pending.campaign != null) {
                if (at == pending.time + joinBound) {
                    output.collect(
                            new StreamRecord<>(
                                    Row.of(pending.campaign, pending.time, pending.clicked), pending.time));
                    state.clear();
                }
                return;
            }
            if (latest(pending) <= at) {
                state.clear();
            }
        }
    }
}
