package ctr.bench;

import org.apache.flink.api.common.functions.FlatMapFunction;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.tuple.Tuple4;
import org.apache.flink.api.java.tuple.Tuple5;
import org.apache.flink.api.java.typeutils.ResultTypeQueryable;
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
 * kafka_partition, kafka_offset)}. The valid ones become the same compact tuples ClickFlags sends.
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

    /** The valid impressions as (impr_id, campaign_id, ts, kafka_partition, kafka_offset) tuples. */
    static final class ValidImpressions
            implements FlatMapFunction<RowData, Tuple5<String, String, Long, Integer, Long>>,
                    ResultTypeQueryable<Tuple5<String, String, Long, Integer, Long>> {
        @Override
        public void flatMap(RowData row, Collector<Tuple5<String, String, Long, Integer, Long>> out) {
            if (row.isNullAt(3)) {
                out.collect(
                        Tuple5.of(
                                row.getString(0).toString(),
                                row.getString(1).toString(),
                                row.getLong(2),
                                row.getInt(5),
                                row.getLong(6)));
            }
        }

        @Override
        public TypeInformation<Tuple5<String, String, Long, Integer, Long>> getProducedType() {
            return Types.TUPLE(Types.STRING, Types.STRING, Types.LONG, Types.INT, Types.LONG);
        }
    }

    /** The valid clicks as (impr_id, ts, kafka_partition, kafka_offset) tuples. */
    static final class ValidClicks
            implements FlatMapFunction<RowData, Tuple4<String, Long, Integer, Long>>,
                    ResultTypeQueryable<Tuple4<String, Long, Integer, Long>> {
        @Override
        public void flatMap(RowData row, Collector<Tuple4<String, Long, Integer, Long>> out) {
            if (row.isNullAt(2)) {
                out.collect(
                        Tuple4.of(row.getString(0).toString(), row.getLong(1), row.getInt(4), row.getLong(5)));
            }
        }

        @Override
        public TypeInformation<Tuple4<String, Long, Integer, Long>> getProducedType() {
            return Types.TUPLE(Types.STRING, Types.LONG, Types.INT, Types.LONG);
        }
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
