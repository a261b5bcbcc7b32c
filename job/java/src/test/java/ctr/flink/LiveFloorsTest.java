package ctr.flink;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Map;

import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;

/** LiveFloors: the live topic's records as floors, and a topic it cannot read. */
class LiveFloorsTest {

    private static final String PATTERN = "yyyy-MM-dd HH:mm:ss";

    /** 2026-12-01 00:00:30 UTC. */
    private static final long START = 1_796_083_230_000L;

    private static final Tuple2<String, Long> WINDOW = Tuple2.of("c", START);

    /** The floors of records added in order, and how many were skipped. */
    private static final class Records {
        final LiveFloors.Latest latest = new LiveFloors.Latest(PATTERN);
        private long offset;

        Records add(String key, String value) {
            latest.add(new ConsumerRecord<>("live", 0, offset++, bytes(key), bytes(value)));
            return this;
        }

        private static byte[] bytes(String text) {
            return text == null ? null : text.getBytes(UTF_8);
        }
    }

    private static String value(String campaign, long impressions, long clicks, boolean isFinal) {
        return "{\"campaign_id\":\"" + campaign + "\",\"window_start\":\"2026-12-01 00:00:30\","
                + "\"window_end\":\"2026-12-01 00:01:00\",\"impressions\":" + impressions + ",\"clicks\":" + clicks
                + ",\"ctr\":" + (double) clicks / impressions + ",\"final\":" + isFinal + "}";
    }

    private static String key(String campaign) {
        return "{\"campaign_id\":\"" + campaign + "\",\"window_start\":\"2026-12-01 00:00:30\"}";
    }

    @Test
    void lastRowPerWindowWins() {
        Records records = new Records().add(key("c"), value("c", 2, 0, false)).add(key("c"), value("c", 4, 1, true));
        assertEquals(Map.of(WINDOW, new LiveCtr.Floor(4, 1, true)), records.latest.floors);
    }

    @Test
    void rowsOfOtherWindowsAreTheirOwnFloors() {
        Records records = new Records().add(key("c"), value("c", 2, 0, false)).add(key("d"), value("d", 1, 1, false));
        assertEquals(
                Map.of(WINDOW, new LiveCtr.Floor(2, 0, false), Tuple2.of("d", START), new LiveCtr.Floor(1, 1, false)),
                records.latest.floors);
    }

    @Test
    void tombstoneRemovesItsWindowsFloor() {
        Records records = new Records().add(key("c"), value("c", 2, 0, false)).add(key("c"), null);
        assertEquals(Map.of(), records.latest.floors);
        assertEquals(0, records.latest.skipped);
    }

    @Test
    void recordsThatAreNotLiveRowsAreSkipped() {
        Records records =
                new Records()
                        .add(key("c"), value("c", 2, 0, false))
                        .add(key("c"), "not json")
                        .add(key("c"), "{\"campaign_id\":\"c\",\"window_start\":\"2026-12-01 00:00:30\"}")
                        .add(key("c"), value("c", 3, 0, false).replace("2026-12-01 00:00:30", "yesterday"))
                        .add(key("c"), value("c", 3, 0, false).replace("\"impressions\":3", "\"impressions\":\"3\""))
                        .add(null, null);
        assertEquals(Map.of(WINDOW, new LiveCtr.Floor(2, 0, false)), records.latest.floors);
        assertEquals(5, records.latest.skipped);
        assertTrue(records.latest.firstSkipped.startsWith("partition 0 offset 1: "), records.latest.firstSkipped);
    }

    @Test
    void topicItCannotReadInTimeGivesNoFloors() {
        long started = System.nanoTime();
        Map<Tuple2<String, Long>, LiveCtr.Floor> floors =
                new LiveFloors("127.0.0.1:1", "live", PATTERN, Duration.ofSeconds(2)).read(Long.MIN_VALUE);
        assertEquals(Map.of(), floors);
        assertTrue(Duration.ofNanos(System.nanoTime() - started).toSeconds() < 30, "a bounded wait");
    }
}
