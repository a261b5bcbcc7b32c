package ctr.bench;

import ctr.flink.ClickFlags.ValidClicks;
import ctr.flink.ClickFlags.ValidImpressions;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.tuple.Tuple4;
import org.apache.flink.api.java.tuple.Tuple5;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.functions.co.KeyedCoProcessFunction;
import org.apache.flink.table.data.RowData;
import org.apache.flink.types.Row;
import org.apache.flink.util.Collector;

/**
 * bench/job.py's "keyed-exchange" ceiling: every valid event sent to its key as the job's
 * {@code ctr.flink.ClickFlags.flags} sends it, and dropped there: what any plan that joins by
 * {@code impr_id} pays before its join. Its rows are those of ClickFlags' output type, and there are
 * none.
 *
 * <p>Input rows are the job's converted source rows, in the order job/ctr_job/sql.py's
 * {@code FLAG_INPUT_COLUMNS} selects them: impressions {@code (impr_id, campaign_id, ts, reason,
 * payload, kafka_partition, kafka_offset)}, clicks {@code (impr_id, ts, reason, payload,
 * kafka_partition, kafka_offset)}. The valid ones become the same compact tuples, by ClickFlags' own functions.
 */
public final class KeyedExchange {

    /** ClickFlags' output type: {@code (campaign_id, ts, clicked)}. */
    public static final TypeInformation<Row> FLAG_TYPE =
            Types.ROW_NAMED(
                    new String[] {"campaign_id", "ts", "clicked"}, Types.STRING, Types.LONG, Types.BOOLEAN);

    private KeyedExchange() {}

    /** The valid impressions and clicks keyed by {@code impr_id} and dropped: no row comes out. */
    public static DataStream<Row> discard(DataStream<RowData> impressions, DataStream<RowData> clicks) {
        return impressions
                .flatMap(new ValidImpressions())
                .connect(clicks.flatMap(new ValidClicks()))
                .keyBy(impression -> impression.f0, click -> click.f0, Types.STRING)
                .process(new Discard(), FLAG_TYPE);
    }

    /** Drops everything. */
    static final class Discard
            extends KeyedCoProcessFunction<
                    String, Tuple5<String, String, Long, Integer, Long>, Tuple4<String, Long, Integer, Long>, Row> {
        @Override
        public void processElement1(
                Tuple5<String, String, Long, Integer, Long> impression, Context ctx, Collector<Row> out) {}

        @Override
        public void processElement2(Tuple4<String, Long, Integer, Long> click, Context ctx, Collector<Row> out) {}
    }
}
