package ctr.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;

import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.api.java.tuple.Tuple4;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.runtime.state.KeyGroupRangeAssignment;
import org.apache.flink.streaming.api.operators.KeyedProcessOperator;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.AbstractStreamOperatorTestHarness;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.apache.flink.types.Row;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** LiveCtr's keyed function, one case at a time, in Flink's operator test harness. */
class LiveCtrTest {

    private static final long WINDOW = 30_000;
    private static final long INTERVAL = 1_000;
    private static final String PATTERN = "yyyy-MM-dd HH:mm:ss";
    private static final int MAX_PARALLELISM = 128;

    /** 2026-12-01 00:00:00 UTC: the start of a window. */
    private static final long START = 1_796_083_200_000L;

    private static final DateTimeFormatter TIMES = DateTimeFormatter.ofPattern(PATTERN).withZone(ZoneOffset.UTC);

    private static final LiveCtr.FloorSource NO_FLOORS = since -> Map.of();

    /** The function in a keyed harness, with shorthands for its input and output. */
    private static final class Live
            extends KeyedOneInputStreamOperatorTestHarness<
                    Tuple2<String, Long>, Tuple4<String, Long, Long, Long>, Row> {
        Live(LiveCtr.FloorSource floors, int parallelism, int subtask) throws Exception {
            super(
                    new KeyedProcessOperator<>(new LiveCtr.LiveRows(WINDOW, INTERVAL, PATTERN, floors)),
                    count -> Tuple2.of(count.f0, count.f1),
                    LiveCtr.WINDOW_TYPE,
                    MAX_PARALLELISM,
                    parallelism,
                    subtask);
        }

        /** Counts to add to the window of {@code campaign} that starts at {@code start}. */
        void delta(String campaign, long start, long impressions, long clicks) throws Exception {
            processElement(new StreamRecord<>(Tuple4.of(campaign, start, impressions, clicks), start));
        }

        /** The rows emitted since the last call, in order. */
        List<Row> rows() {
            List<Row> rows = extractOutputValues();
            getOutput().clear();
            return rows;
        }

        /** The rows emitted since the last call, in a stable order. */
        List<Row> sortedRows() {
            return sorted(rows());
        }
    }

    /** Every harness a test makes, closed after it. */
    private final List<Live> harnesses = new ArrayList<>();

    private Live harness(LiveCtr.FloorSource floors, int parallelism, int subtask) throws Exception {
        Live harness = new Live(floors, parallelism, subtask);
        harnesses.add(harness);
        return harness;
    }

    /** An opened harness without floors at processing time 0. */
    private Live opened() throws Exception {
        Live harness = harness(NO_FLOORS, 1, 0);
        harness.open();
        harness.setProcessingTime(0);
        return harness;
    }

    /** A harness restored from {@code snapshot} (taken at parallelism 1) with {@code floors}, at processing time 0. */
    private Live restored(OperatorSubtaskState snapshot, LiveCtr.FloorSource floors, int parallelism, int subtask)
            throws Exception {
        Live harness = harness(floors, parallelism, subtask);
        harness.initializeState(
                AbstractStreamOperatorTestHarness.repartitionOperatorState(
                        snapshot, MAX_PARALLELISM, 1, parallelism, subtask));
        harness.open();
        harness.setProcessingTime(0);
        return harness;
    }

    private Live restored(OperatorSubtaskState snapshot, LiveCtr.FloorSource floors) throws Exception {
        return restored(snapshot, floors, 1, 0);
    }

    @AfterEach
    void close() throws Exception {
        for (Live harness : harnesses) {
            harness.close();
        }
    }

    /** The row of the window of {@code campaign} that starts at {@link #START}. */
    private static Row row(String campaign, long impressions, long clicks, boolean isFinal) {
        return Row.of(
                campaign,
                TIMES.format(Instant.ofEpochMilli(START)),
                TIMES.format(Instant.ofEpochMilli(START + WINDOW)),
                impressions,
                clicks,
                (double) clicks / impressions,
                isFinal);
    }

    private static Row live(String campaign, long impressions, long clicks) {
        return row(campaign, impressions, clicks, false);
    }

    private static Row finalRow(String campaign, long impressions, long clicks) {
        return row(campaign, impressions, clicks, true);
    }

    private static List<Row> sorted(List<Row> rows) {
        return rows.stream().sorted(Comparator.comparing(Row::toString)).collect(Collectors.toList());
    }

    private static Map<Tuple2<String, Long>, LiveCtr.Floor> floor(
            String campaign, long impressions, long clicks, boolean isFinal) {
        return Map.of(Tuple2.of(campaign, START), new LiveCtr.Floor(impressions, clicks, isFinal));
    }

    @Test
    void rowHasItsWindowInUtcItsCountsAndCtr() throws Exception {
        Live harness = opened();
        harness.delta("c", START, 4, 1);
        harness.setProcessingTime(INTERVAL);
        assertEquals(
                List.of(Row.of("c", "2026-12-01 00:00:00", "2026-12-01 00:00:30", 4L, 1L, 0.25, false)),
                harness.rows());
    }

    @Test
    void noRowBeforeTheIntervalBoundary() throws Exception {
        Live harness = opened();
        harness.setProcessingTime(300);
        harness.delta("c", START, 1, 0);
        harness.setProcessingTime(INTERVAL - 1);
        assertEquals(List.of(), harness.rows());
        harness.setProcessingTime(INTERVAL);
        assertEquals(List.of(live("c", 1, 0)), harness.rows());
    }

    @Test
    void oneRowPerWindowPerIntervalHoweverManyDeltas() throws Exception {
        Live harness = opened();
        for (int n = 0; n < 10; n++) {
            harness.setProcessingTime(n * 90);
            harness.delta("c", START, 2, 1);
            harness.delta("d", START, 1, 0);
        }
        harness.setProcessingTime(INTERVAL);
        assertEquals(List.of(live("c", 20, 10), live("d", 10, 0)), harness.sortedRows());
    }

    @Test
    void noRowForAWindowThatDidNotChange() throws Exception {
        Live harness = opened();
        harness.delta("c", START, 1, 0);
        harness.delta("d", START, 1, 0);
        harness.setProcessingTime(INTERVAL);
        harness.rows();
        harness.delta("c", START, 1, 1);
        harness.setProcessingTime(2 * INTERVAL);
        assertEquals(List.of(live("c", 2, 1)), harness.rows());
        harness.setProcessingTime(3 * INTERVAL);
        assertEquals(List.of(), harness.rows());
    }

    @Test
    void finalRowWhenTheWatermarkReachesTheWindowsEndMinusOne() throws Exception {
        Live harness = opened();
        harness.delta("c", START, 3, 1);
        harness.delta("c", START, 2, 0);
        harness.processWatermark(START + WINDOW - 2);
        assertEquals(List.of(), harness.rows());
        harness.processWatermark(START + WINDOW - 1);
        assertEquals(List.of(finalRow("c", 5, 1)), harness.rows());
    }

    @Test
    void nothingForAWindowAfterItsFinalRow() throws Exception {
        Live harness = opened();
        harness.delta("c", START, 3, 1);
        harness.processWatermark(START + WINDOW - 1);
        harness.rows();
        harness.setProcessingTime(10 * INTERVAL);
        harness.processWatermark(Long.MAX_VALUE);
        assertEquals(List.of(), harness.rows());
        assertEquals(0, harness.numKeyedStateEntries());
    }

    @Test
    void liveRowsAreMonotoneAndAtMostTheFinalRow() throws Exception {
        Live harness = opened();
        Random random = new Random(22);
        Map<String, long[]> totals = new HashMap<>();
        for (int n = 0; n < 500; n++) {
            String campaign = "c" + random.nextInt(3);
            long impressions = random.nextInt(3);
            long clicks = random.nextInt((int) impressions + 1);
            harness.delta(campaign, START, impressions, clicks);
            long[] total = totals.computeIfAbsent(campaign, ignored -> new long[2]);
            total[0] += impressions;
            total[1] += clicks;
            harness.setProcessingTime(n * 37);
        }
        harness.processWatermark(Long.MAX_VALUE);
        List<Row> rows = harness.rows();
        for (Map.Entry<String, long[]> total : totals.entrySet()) {
            List<Row> ofCampaign = rows.stream().filter(row -> row.getField(0).equals(total.getKey())).toList();
            assertTrue(ofCampaign.size() > 2, "several live rows");
            Row closing = ofCampaign.get(ofCampaign.size() - 1);
            assertEquals(finalRow(total.getKey(), total.getValue()[0], total.getValue()[1]), closing);
            for (int n = 1; n < ofCampaign.size(); n++) {
                assertTrue(notAbove(ofCampaign.get(n - 1), ofCampaign.get(n)), "monotone");
            }
        }
    }

    /** Whether {@code row}'s impressions and clicks are not above {@code next}'s. */
    private static boolean notAbove(Row row, Row next) {
        return (Long) row.getField(3) <= (Long) next.getField(3) && (Long) row.getField(4) <= (Long) next.getField(4);
    }

    /** A snapshot with window c changed since its last live row (3 impressions, 1 click) and window d not (2, 0). */
    private OperatorSubtaskState snapshotWithOpenWindows() throws Exception {
        Live before = opened();
        before.delta("d", START, 2, 0);
        before.setProcessingTime(INTERVAL);
        before.delta("c", START, 3, 1);
        before.setProcessingTime(INTERVAL + 100);
        return before.snapshot(1, 1);
    }

    @Test
    void restoreEmitsTheChangedWindowsWithinOneInterval() throws Exception {
        Live after = restored(snapshotWithOpenWindows(), NO_FLOORS);
        after.setProcessingTime(2 * INTERVAL);
        assertEquals(List.of(live("c", 3, 1)), after.rows());
        after.delta("d", START, 1, 0);
        after.setProcessingTime(3 * INTERVAL);
        assertEquals(List.of(live("d", 3, 0)), after.rows());
    }

    @Test
    void floorsAreReadOnlyOnARestore() throws Exception {
        AtomicInteger reads = new AtomicInteger();
        LiveCtr.FloorSource counted = since -> {
            reads.incrementAndGet();
            return Map.of();
        };
        harness(counted, 1, 0).open();
        assertEquals(0, reads.get());
        restored(snapshotWithOpenWindows(), counted);
        assertEquals(1, reads.get());
    }

    @Test
    void aRestoreReadsTheRowsSinceItsCheckpointOrSinceTheFloorsItStillHeldWereRead() throws Exception {
        List<Long> reads = new ArrayList<>();
        long before = System.currentTimeMillis();
        OperatorSubtaskState first = snapshotWithOpenWindows();
        long after = System.currentTimeMillis();
        Live holding = restored(first, since -> {
            reads.add(since);
            return floor("c", 5, 2, false);
        });
        long since = reads.get(0);
        assertTrue(
                before - LiveCtr.READ_MARGIN_MS <= since && since <= after - LiveCtr.READ_MARGIN_MS,
                "the checkpoint's time less the margin");

        restored(holding.snapshot(2, 2), since2 -> {
            reads.add(since2);
            return Map.of();
        });
        assertEquals(since, reads.get(1), "the floor of c still held: read from where it was read");

        holding.delta("c", START, 2, 1);
        holding.setProcessingTime(2 * INTERVAL);
        assertEquals(List.of(live("c", 5, 2)), holding.rows());
        long reached = System.currentTimeMillis();
        restored(holding.snapshot(3, 3), since3 -> {
            reads.add(since3);
            return Map.of();
        });
        assertTrue(reads.get(2) >= reached - LiveCtr.READ_MARGIN_MS, "no floor held: from the new checkpoint");
    }

    @Test
    void floorAboveTheRestoredCountsHoldsBackLowerRows() throws Exception {
        Live after = restored(snapshotWithOpenWindows(), since -> floor("c", 5, 2, false));
        after.setProcessingTime(2 * INTERVAL);
        assertEquals(List.of(), after.rows());
        after.delta("c", START, 2, 0);
        after.setProcessingTime(3 * INTERVAL);
        assertEquals(List.of(), after.rows(), "5 impressions but 1 click, below the floor's 2");
        after.delta("c", START, 0, 1);
        after.setProcessingTime(4 * INTERVAL);
        assertEquals(List.of(live("c", 5, 2)), after.rows());
    }

    @Test
    void windowLiveAgainOnceItsFloorIsReached() throws Exception {
        Live after = restored(snapshotWithOpenWindows(), since -> floor("c", 4, 1, false));
        after.delta("c", START, 1, 0);
        after.setProcessingTime(2 * INTERVAL);
        assertEquals(List.of(live("c", 4, 1)), after.rows());
        after.delta("c", START, 1, 0);
        after.setProcessingTime(3 * INTERVAL);
        assertEquals(List.of(live("c", 5, 1)), after.rows());
    }

    @Test
    void finalFloorSuppressesLiveRowsUntilTheFinalRow() throws Exception {
        Live after = restored(snapshotWithOpenWindows(), since -> floor("c", 5, 2, true));
        after.delta("c", START, 1, 1);
        after.setProcessingTime(2 * INTERVAL);
        after.delta("c", START, 1, 0);
        after.setProcessingTime(3 * INTERVAL);
        assertEquals(List.of(), after.rows());
        after.processWatermark(START + WINDOW - 1);
        assertEquals(List.of(finalRow("c", 5, 2), finalRow("d", 2, 0)), after.sortedRows());
    }

    @Test
    void floorOfAnotherWindowDoesNotHoldThisOneBack() throws Exception {
        Live after = restored(snapshotWithOpenWindows(), since -> floor("d", 9, 9, true));
        after.setProcessingTime(2 * INTERVAL);
        assertEquals(List.of(live("c", 3, 1)), after.rows());
    }

    private static final int CAMPAIGNS = 16;

    /** A snapshot at parallelism 1 with window k of CAMPAIGNS changed: k + 1 impressions. */
    private OperatorSubtaskState snapshotOfManyWindows() throws Exception {
        Live before = opened();
        for (int k = 0; k < CAMPAIGNS; k++) {
            before.delta("c" + k, START, k + 1, 0);
        }
        return before.snapshot(1, 1);
    }

    /** Floors one impression above the snapshot's counts, for the even windows. */
    private static Map<Tuple2<String, Long>, LiveCtr.Floor> evenFloors() {
        Map<Tuple2<String, Long>, LiveCtr.Floor> floors = new HashMap<>();
        for (int k = 0; k < CAMPAIGNS; k += 2) {
            floors.put(Tuple2.of("c" + k, START), new LiveCtr.Floor(k + 2, 0, false));
        }
        return floors;
    }

    private static int subtaskOf(int k, int parallelism) {
        return KeyGroupRangeAssignment.assignKeyToParallelOperator(
                Tuple2.of("c" + k, START), MAX_PARALLELISM, parallelism);
    }

    @Test
    void restoreFromParallelismOneToTwoKeepsEachWindowAndItsFloorOnItsSubtask() throws Exception {
        OperatorSubtaskState snapshot = snapshotOfManyWindows();
        List<Row> first = new ArrayList<>();
        List<Row> second = new ArrayList<>();
        for (int subtask = 0; subtask < 2; subtask++) {
            Live after = restored(snapshot, since -> evenFloors(), 2, subtask);
            after.setProcessingTime(INTERVAL);
            List<Row> rows = after.rows();
            assertFalse(rows.isEmpty(), "each subtask holds some of the windows");
            first.addAll(rows);
            for (int k = 0; k < CAMPAIGNS; k++) {
                if (subtaskOf(k, 2) == subtask) {
                    after.delta("c" + k, START, 1, 0);
                }
            }
            after.setProcessingTime(2 * INTERVAL);
            second.addAll(after.rows());
        }
        List<Row> odd = new ArrayList<>();
        List<Row> all = new ArrayList<>();
        for (int k = 0; k < CAMPAIGNS; k++) {
            if (k % 2 == 1) {
                odd.add(live("c" + k, k + 1, 0));
            }
            all.add(live("c" + k, k + 2, 0));
        }
        assertEquals(sorted(odd), sorted(first));
        assertEquals(sorted(all), sorted(second));
    }
}
