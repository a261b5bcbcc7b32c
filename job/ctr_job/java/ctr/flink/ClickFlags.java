package ctr.flink;

import org.apache.flink.api.common.functions.FlatMapFunction;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.api.java.tuple.Tuple3;
import org.apache.flink.api.java.typeutils.ResultTypeQueryable;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.functions.co.KeyedCoProcessFunction;
import org.apache.flink.table.api.Table;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.runtime.operators.join.KeyedCoProcessOperatorWithWatermarkDelay;
import org.apache.flink.types.Row;
import org.apache.flink.util.Collector;

/**
 * One row per impression with a clicked flag: the CTR job's join of impressions and clicks, as one
 * keyed operator instead of the SQL interval join and {@code COUNT(DISTINCT ...)} windows.
 *
 * <p>Keyed by {@code impr_id}, it holds per impression its campaign, time and clicked flag (and,
 * for a click that comes before its impression, the click's time) in one state entry with one
 * timer. A click counts when its time is within [impression time, impression time + join bound];
 * the first impression of an id wins and a click counts once. When the watermark passes the
 * impression's time plus the join bound, no on-time click can still come: the operator emits
 * {@code (campaign_id, ts, clicked)} and forgets the id. Its output watermark is held back by the
 * join bound, so that the rows it emits are on time for the tumbling windows after it.
 *
 * <p>Lateness follows the watermark as in the interval join: a click is kept for an impression
 * still to come while the watermark has not passed the click; an impression whose click interval
 * the watermark has already passed when it arrives is late and dropped (so a copy of an impression
 * that was already emitted is never counted twice).
 *
 * <p>Input rows are the job's converted source rows (job/ctr_job/sql.py selects them in this
 * order): impressions {@code (impr_id, campaign_id, ts, reason, ...)}, clicks {@code (impr_id, ts,
 * reason, ...)}; a row with a {@code reason} is malformed and goes to the dead-letter topic instead.
 */
public final class ClickFlags {

    public static final int IMPRESSION_ID = 0;
    public static final int IMPRESSION_CAMPAIGN = 1;
    public static final int IMPRESSION_TS = 2;
    public static final int IMPRESSION_REASON = 3;
    public static final int CLICK_ID = 0;
    public static final int CLICK_TS = 1;
    public static final int CLICK_REASON = 2;

    /** The type of the rows {@link #flags} emits. */
    public static final TypeInformation<Row> FLAG_TYPE =
            Types.ROW_NAMED(
                    new String[] {"campaign_id", "ts", "clicked"},
                    Types.STRING,
                    Types.LONG,
                    Types.BOOLEAN);

    private ClickFlags() {}

    /** The valid impressions and clicks joined into one {@code (campaign_id, ts, clicked)} row per impression. */
    public static DataStream<Row> flags(
            DataStream<RowData> impressions, DataStream<RowData> clicks, long joinBoundMs) {
        DataStream<Tuple3<String, String, Long>> shown = impressions.flatMap(new ValidImpressions());
        DataStream<Tuple2<String, Long>> clicked = clicks.flatMap(new ValidClicks());
        return shown.connect(clicked)
                .keyBy(impression -> impression.f0, click -> click.f0, Types.STRING)
                .transform(
                        "click flags",
                        FLAG_TYPE,
                        new KeyedCoProcessOperatorWithWatermarkDelay<>(
                                new Flags(joinBoundMs), joinBoundMs));
    }

    /**
     * The rows of a table as a DataStream of Flink's internal rows: no conversion to {@link Row}
     * (the fields are read once, by the operator or by the dead-letter sink).
     */
    public static DataStream<RowData> rows(StreamTableEnvironment tableEnv, Table table) {
        return tableEnv.toDataStream(
                table, table.getResolvedSchema().toPhysicalRowDataType().bridgedTo(RowData.class));
    }

    /** The malformed rows of a converted source (those with a reason): the dead letters. */
    public static DataStream<RowData> malformed(DataStream<RowData> events, int reasonField) {
        return events.filter(row -> !row.isNullAt(reasonField));
    }

    /** The valid impressions as compact (impr_id, campaign_id, ts) tuples: cheap to send to their key. */
    static final class ValidImpressions
            implements FlatMapFunction<RowData, Tuple3<String, String, Long>>,
                    ResultTypeQueryable<Tuple3<String, String, Long>> {
        @Override
        public void flatMap(RowData row, Collector<Tuple3<String, String, Long>> out) {
            if (row.isNullAt(IMPRESSION_REASON)) {
                out.collect(
                        Tuple3.of(
                                row.getString(IMPRESSION_ID).toString(),
                                row.getString(IMPRESSION_CAMPAIGN).toString(),
                                row.getLong(IMPRESSION_TS)));
            }
        }

        @Override
        public TypeInformation<Tuple3<String, String, Long>> getProducedType() {
            return Types.TUPLE(Types.STRING, Types.STRING, Types.LONG);
        }
    }

    /** The valid clicks as compact (impr_id, ts) tuples. */
    static final class ValidClicks
            implements FlatMapFunction<RowData, Tuple2<String, Long>>,
                    ResultTypeQueryable<Tuple2<String, Long>> {
        @Override
        public void flatMap(RowData row, Collector<Tuple2<String, Long>> out) {
            if (row.isNullAt(CLICK_REASON)) {
                out.collect(Tuple2.of(row.getString(CLICK_ID).toString(), row.getLong(CLICK_TS)));
            }
        }

        @Override
        public TypeInformation<Tuple2<String, Long>> getProducedType() {
            return Types.TUPLE(Types.STRING, Types.LONG);
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

    /** The keyed function: impressions on the first input, clicks on the second. */
    static final class Flags
            extends KeyedCoProcessFunction<
                    String, Tuple3<String, String, Long>, Tuple2<String, Long>, Row> {
        private final long joinBound;
        private transient ValueState<Pending> state;

        Flags(long joinBound) {
            this.joinBound = joinBound;
        }

        @Override
        public void open(OpenContext openContext) {
            state =
                    getRuntimeContext()
                            .getState(
                                    new ValueStateDescriptor<>(
                                            "impression", TypeInformation.of(Pending.class)));
        }

        @Override
        public void processElement1(
                Tuple3<String, String, Long> impression, Context ctx, Collector<Row> out)
                throws Exception {
            Pending pending = state.value();
            if (pending != null && pending.campaign != null) {
                return;
            }
            long time = impression.f2;
            long due = time + joinBound;
            if (ctx.timerService().currentWatermark() >= due) {
                return;
            }
            if (pending == null) {
                pending = new Pending();
            }
            pending.campaign = impression.f1;
            pending.time = time;
            pending.clicked = pending.clickedWithin(time, due);
            pending.earlyClicks = null;
            state.update(pending);
            ctx.timerService().registerEventTimeTimer(due);
        }

        @Override
        public void processElement2(Tuple2<String, Long> click, Context ctx, Collector<Row> out)
                throws Exception {
            long time = click.f1;
            Pending pending = state.value();
            if (pending != null && pending.campaign != null) {
                if (!pending.clicked && time >= pending.time && time <= pending.time + joinBound) {
                    pending.clicked = true;
                    state.update(pending);
                }
                return;
            }
            if (time <= ctx.timerService().currentWatermark()) {
                return;
            }
            if (pending == null) {
                pending = new Pending();
                pending.earlyClicks = new long[] {time};
            } else {
                long[] times = java.util.Arrays.copyOf(pending.earlyClicks, pending.earlyClicks.length + 1);
                times[times.length - 1] = time;
                pending.earlyClicks = times;
            }
            state.update(pending);
            ctx.timerService().registerEventTimeTimer(time);
        }

        @Override
        public void onTimer(long timestamp, OnTimerContext ctx, Collector<Row> out)
                throws Exception {
            Pending pending = state.value();
            if (pending == null) {
                return;
            }
            if (pending.campaign != null) {
                if (timestamp == pending.time + joinBound) {
                    out.collect(Row.of(pending.campaign, pending.time, pending.clicked));
                    state.clear();
                }
                return;
            }
            for (long at : pending.earlyClicks) {
                if (at > timestamp) {
                    return;
                }
            }
            state.clear();
        }
    }
}
