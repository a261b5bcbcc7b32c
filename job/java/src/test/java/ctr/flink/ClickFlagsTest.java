package ctr.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.stream.Collectors;

import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.api.java.tuple.Tuple4;
import org.apache.flink.api.java.tuple.Tuple5;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.runtime.event.WatermarkEvent;
import org.apache.flink.runtime.state.KeyGroupRangeAssignment;
import org.apache.flink.streaming.api.operators.Output;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.runtime.streamrecord.LatencyMarker;
import org.apache.flink.streaming.runtime.streamrecord.RecordAttributes;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.runtime.watermarkstatus.WatermarkStatus;
import org.apache.flink.streaming.util.AbstractStreamOperatorTestHarness;
import org.apache.flink.streaming.util.KeyedTwoInputStreamOperatorTestHarness;
import org.apache.flink.types.Row;
import org.apache.flink.util.OutputTag;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** ClickFlags' keyed operator, one case at a time, in Flink's operator test harness. */
class ClickFlagsTest {

    private static final long BOUND = 15_000;
    private static final long WINDOW = 30_000;
    private static final int MAX_PARALLELISM = 128;
    private static final int PARTITION = 3;

    /** The operator in a keyed harness, with shorthands for its inputs. */
    private static final class Flags
            extends KeyedTwoInputStreamOperatorTestHarness<
                    String, Tuple5<String, String, Long, Integer, Long>, Tuple4<String, Long, Integer, Long>, Row> {
        /** The operator under test, for its metrics. */
        final ClickFlags.FlagsOperator operator;

        /** The Kafka offset the next event is given (all come from partition {@link #PARTITION}). */
        private long offset;

        Flags(long countWindow, int parallelism, int subtask) throws Exception {
            this(new ClickFlags.FlagsOperator(BOUND, countWindow), parallelism, subtask);
        }

        private Flags(ClickFlags.FlagsOperator operator, int parallelism, int subtask) throws Exception {
            super(
                    operator,
                    impression -> impression.f0,
                    click -> click.f0,
                    Types.STRING,
                    MAX_PARALLELISM,
                    parallelism,
                    subtask);
            this.operator = operator;
        }

        /** An impression; returns its Kafka offset. */
        long impression(String id, String campaign, long at) throws Exception {
            processElement1(new StreamRecord<>(Tuple5.of(id, campaign, at, PARTITION, offset), at));
            return offset++;
        }

        /** A click; returns its Kafka offset. */
        long click(String id, long at) throws Exception {
            processElement2(new StreamRecord<>(Tuple4.of(id, at, PARTITION, offset), at));
            return offset++;
        }

        /** The dead letters on the side output {@code tag}. */
        List<Row> late(OutputTag<Row> tag) {
            ConcurrentLinkedQueue<StreamRecord<Row>> letters = getSideOutput(tag);
            return letters == null
                    ? List.of()
                    : letters.stream().map(StreamRecord::getValue).collect(Collectors.toList());
        }

        void watermark(long at) throws Exception {
            processWatermark1(new Watermark(at));
            processWatermark2(new Watermark(at));
        }

        /** The records sent to the side output {@link ClickFlags#COUNTS}. */
        List<StreamRecord<Tuple4<String, Long, Long, Long>>> countRecords() {
            ConcurrentLinkedQueue<StreamRecord<Tuple4<String, Long, Long, Long>>> counts =
                    getSideOutput(ClickFlags.COUNTS);
            return counts == null ? List.of() : new ArrayList<>(counts);
        }

        /** The counts sent so far, added up per (campaign, window start): (impressions, clicks). */
        Map<Tuple2<String, Long>, Tuple2<Long, Long>> countTotals() {
            Map<Tuple2<String, Long>, Tuple2<Long, Long>> totals = new TreeMap<>(WINDOW_ORDER);
            for (StreamRecord<Tuple4<String, Long, Long, Long>> record : countRecords()) {
                Tuple4<String, Long, Long, Long> count = record.getValue();
                totals.merge(
                        Tuple2.of(count.f0, count.f1),
                        Tuple2.of(count.f2, count.f3),
                        (a, b) -> Tuple2.of(a.f0 + b.f0, a.f1 + b.f1));
            }
            return totals;
        }

        /** The flag rows emitted so far, counted per (campaign, window start): (impressions, clicked). */
        Map<Tuple2<String, Long>, Tuple2<Long, Long>> flagTotals() {
            Map<Tuple2<String, Long>, Tuple2<Long, Long>> totals = new TreeMap<>(WINDOW_ORDER);
            for (Row row : extractOutputValues()) {
                long at = (Long) row.getField(1);
                totals.merge(
                        Tuple2.of((String) row.getField(0), at - Math.floorMod(at, WINDOW)),
                        Tuple2.of(1L, (Boolean) row.getField(2) ? 1L : 0L),
                        (a, b) -> Tuple2.of(a.f0 + b.f0, a.f1 + b.f1));
            }
            return totals;
        }
    }

    private static final Comparator<Tuple2<String, Long>> WINDOW_ORDER =
            Comparator.<Tuple2<String, Long>, String>comparing(window -> window.f0).thenComparing(window -> window.f1);

    /** Every harness a test makes, closed after it. */
    private final List<Flags> harnesses = new ArrayList<>();

    private Flags flags(long countWindow, int parallelism, int subtask) throws Exception {
        Flags harness = new Flags(countWindow, parallelism, subtask);
        harnesses.add(harness);
        return harness;
    }

    private Flags flags(int parallelism, int subtask) throws Exception {
        return flags(0, parallelism, subtask);
    }

    private Flags opened() throws Exception {
        Flags harness = flags(1, 0);
        harness.open();
        return harness;
    }

    /** An opened harness whose operator counts in windows of {@link #WINDOW}. */
    private Flags counting() throws Exception {
        Flags harness = flags(WINDOW, 1, 0);
        harness.open();
        return harness;
    }

    @AfterEach
    void close() throws Exception {
        for (Flags harness : harnesses) {
            harness.close();
        }
    }

    private static Row flag(String campaign, long at, boolean clicked) {
        return Row.of(campaign, at, clicked);
    }

    @Test
    void clickExactlyAtTheBoundCounts() throws Exception {
        Flags harness = opened();
        harness.impression("i", "c", 1_000);
        harness.click("i", 1_000 + BOUND);
        harness.watermark(1_000 + BOUND);
        assertEquals(List.of(flag("c", 1_000, true)), harness.extractOutputValues());
    }

    @Test
    void clickOneMillisecondPastTheBoundDoesNotCount() throws Exception {
        Flags harness = opened();
        harness.impression("i", "c", 1_000);
        harness.click("i", 1_000 + BOUND + 1);
        harness.watermark(Long.MAX_VALUE);
        assertEquals(List.of(flag("c", 1_000, false)), harness.extractOutputValues());
    }

    @Test
    void clickBeforeItsImpressionsTimeDoesNotCount() throws Exception {
        Flags harness = opened();
        harness.impression("i", "c", 1_000);
        harness.click("i", 999);
        harness.watermark(Long.MAX_VALUE);
        assertEquals(List.of(flag("c", 1_000, false)), harness.extractOutputValues());
    }

    @Test
    void clickArrivingBeforeItsImpressionCounts() throws Exception {
        Flags harness = opened();
        harness.click("i", 2_000);
        harness.impression("i", "c", 1_000);
        harness.watermark(Long.MAX_VALUE);
        assertEquals(List.of(flag("c", 1_000, true)), harness.extractOutputValues());
    }

    @Test
    void theFirstOfDuplicateImpressionsWins() throws Exception {
        Flags harness = opened();
        harness.impression("i", "c", 1_000);
        harness.impression("i", "other", 1_200);
        harness.watermark(Long.MAX_VALUE);
        assertEquals(List.of(flag("c", 1_000, false)), harness.extractOutputValues());
    }

    @Test
    void twoClicksFlagOneImpressionOnce() throws Exception {
        Flags harness = opened();
        harness.impression("i", "c", 1_000);
        harness.click("i", 2_000);
        harness.click("i", 3_000);
        harness.watermark(Long.MAX_VALUE);
        assertEquals(List.of(flag("c", 1_000, true)), harness.extractOutputValues());
        assertEquals(0, harness.numKeyedStateEntries());
    }

    private static Row lateLetter(long offset) {
        return Row.of(PARTITION, offset, null, "late");
    }

    @Test
    void lateImpressionIsCountedAndDeadLetteredNotFlagged() throws Exception {
        Flags harness = opened();
        harness.watermark(1_000 + BOUND);
        long offset = harness.impression("i", "c", 1_000);
        harness.watermark(Long.MAX_VALUE);
        assertEquals(List.of(), harness.extractOutputValues());
        assertEquals(0, harness.numKeyedStateEntries());
        assertEquals(1, harness.operator.lateImpressions.getCount());
        assertEquals(0, harness.operator.lateClicks.getCount());
        assertEquals(List.of(lateLetter(offset)), harness.late(ClickFlags.LATE_IMPRESSIONS));
        assertEquals(List.of(), harness.late(ClickFlags.LATE_CLICKS));
    }

    @Test
    void lateClickWithoutItsImpressionIsCountedAndDeadLettered() throws Exception {
        Flags harness = opened();
        harness.watermark(5_000);
        long offset = harness.click("i", 4_000);
        harness.impression("i", "c", 3_000);
        harness.watermark(Long.MAX_VALUE);
        assertEquals(List.of(flag("c", 3_000, false)), harness.extractOutputValues());
        assertEquals(1, harness.operator.lateClicks.getCount());
        assertEquals(0, harness.operator.lateImpressions.getCount());
        assertEquals(List.of(lateLetter(offset)), harness.late(ClickFlags.LATE_CLICKS));
        assertEquals(List.of(), harness.late(ClickFlags.LATE_IMPRESSIONS));
    }

    @Test
    void copyOfAnEmittedImpressionAndItsClickAreLate() throws Exception {
        Flags harness = opened();
        harness.impression("i", "c", 1_000);
        harness.watermark(1_000 + BOUND);
        long impression = harness.impression("i", "c", 1_000);
        long click = harness.click("i", 2_000);
        harness.watermark(Long.MAX_VALUE);
        assertEquals(List.of(flag("c", 1_000, false)), harness.extractOutputValues());
        assertEquals(List.of(lateLetter(impression)), harness.late(ClickFlags.LATE_IMPRESSIONS));
        assertEquals(List.of(lateLetter(click)), harness.late(ClickFlags.LATE_CLICKS));
    }

    @Test
    void onTimeEventsAreNotLate() throws Exception {
        Flags harness = opened();
        harness.click("j", 500);
        harness.impression("i", "c", 1_000);
        harness.click("i", 2_000);
        harness.watermark(Long.MAX_VALUE);
        assertEquals(0, harness.operator.lateImpressions.getCount());
        assertEquals(0, harness.operator.lateClicks.getCount());
    }

    @Test
    void lateClickForAnImpressionStillHeldCounts() throws Exception {
        Flags harness = opened();
        harness.impression("i", "c", 1_000);
        harness.watermark(5_000);
        harness.click("i", 4_000);
        harness.watermark(Long.MAX_VALUE);
        assertEquals(List.of(flag("c", 1_000, true)), harness.extractOutputValues());
    }

    @Test
    void outputWatermarkIsHeldBackByTheJoinBound() throws Exception {
        Flags harness = opened();
        harness.impression("i", "c", 1_000);
        harness.watermark(1_000 + BOUND);
        harness.watermark(Long.MAX_VALUE);
        List<Object> output = new ArrayList<>(harness.getOutput());
        assertEquals(
                List.of(
                        new StreamRecord<>(flag("c", 1_000, false), 1_000),
                        new Watermark(1_000),
                        new Watermark(Long.MAX_VALUE)),
                output);
    }

    /** Events before the snapshot: impressions with and without clicks, and clicks still waiting for theirs. */
    private static void beforeSnapshot(Flags harness, int parallelism, int subtask) throws Exception {
        for (int i = 0; i < 40; i++) {
            String id = "i" + i;
            if (subtaskOf(id, parallelism) != subtask) {
                continue;
            }
            if (i % 4 == 3) {
                harness.click(id, 1_000 + i);
            } else {
                harness.impression(id, "c" + i % 3, 1_000 + i);
            }
            if (i % 4 == 1) {
                harness.click(id, 2_000 + i);
            }
        }
    }

    /** Events after the restore: impressions for half the waiting clicks, clicks for some impressions that had none. */
    private static void afterRestore(Flags harness, int parallelism, int subtask) throws Exception {
        for (int i = 0; i < 40; i++) {
            String id = "i" + i;
            if (subtaskOf(id, parallelism) != subtask) {
                continue;
            }
            if (i % 8 == 3) {
                harness.impression(id, "c" + i % 3, 500 + i);
            } else if (i % 4 == 0) {
                harness.click(id, 3_000 + i);
            }
        }
        harness.watermark(Long.MAX_VALUE);
    }

    private static int subtaskOf(String id, int parallelism) {
        return KeyGroupRangeAssignment.assignKeyToParallelOperator(id, MAX_PARALLELISM, parallelism);
    }

    private static List<Row> sorted(List<Row> rows) {
        return rows.stream().sorted(Comparator.comparing(Row::toString)).collect(Collectors.toList());
    }

    /** What the events give without a snapshot in between. */
    private List<Row> uninterrupted() throws Exception {
        Flags harness = opened();
        beforeSnapshot(harness, 1, 0);
        afterRestore(harness, 1, 0);
        return sorted(harness.extractOutputValues());
    }

    @Test
    void snapshotRestoredFromParallelismTwoToOneGivesTheSameRows() throws Exception {
        List<OperatorSubtaskState> snapshots = new ArrayList<>();
        for (int subtask = 0; subtask < 2; subtask++) {
            Flags before = flags(2, subtask);
            before.open();
            beforeSnapshot(before, 2, subtask);
            snapshots.add(before.snapshot(1, 1));
        }
        OperatorSubtaskState merged =
                AbstractStreamOperatorTestHarness.repackageState(snapshots.toArray(new OperatorSubtaskState[0]));

        Flags after = flags(1, 0);
        after.initializeState(
                AbstractStreamOperatorTestHarness.repartitionOperatorState(merged, MAX_PARALLELISM, 2, 1, 0));
        after.open();
        afterRestore(after, 1, 0);

        assertEquals(uninterrupted(), sorted(after.extractOutputValues()));
        assertEquals(0, after.numKeyedStateEntries());
    }

    @Test
    void snapshotRestoredFromParallelismOneToTwoGivesTheSameRows() throws Exception {
        Flags before = opened();
        beforeSnapshot(before, 1, 0);
        OperatorSubtaskState snapshot = before.snapshot(1, 1);

        List<Row> restored = new ArrayList<>();
        for (int subtask = 0; subtask < 2; subtask++) {
            Flags after = flags(2, subtask);
            after.initializeState(
                    AbstractStreamOperatorTestHarness.repartitionOperatorState(
                            snapshot, MAX_PARALLELISM, 1, 2, subtask));
            after.open();
            afterRestore(after, 2, subtask);
            assertFalse(after.extractOutputValues().isEmpty(), "each subtask holds some of the ids");
            restored.addAll(after.extractOutputValues());
            assertEquals(0, after.numKeyedStateEntries());
        }

        assertEquals(uninterrupted(), sorted(restored));
    }

    @Test
    void anEventLateBeforeASnapshotIsLateAfterItsRestore() throws Exception {
        Flags before = opened();
        before.impression("a", "c", 1_000);
        before.watermark(1_000 + BOUND);
        OperatorSubtaskState snapshot = before.snapshot(1, 1);

        Flags after = flags(1, 0);
        after.initializeState(snapshot);
        after.open();
        long lateImpression = after.impression("b", "c", 1_000);
        long lateClick = after.click("x", 1_000 + BOUND);
        after.watermark(2_000);
        after.impression("d", "c", 2_000);
        after.watermark(Long.MAX_VALUE);

        assertEquals(List.of(flag("c", 2_000, false)), after.extractOutputValues());
        assertEquals(List.of(lateLetter(lateImpression)), after.late(ClickFlags.LATE_IMPRESSIONS));
        assertEquals(List.of(lateLetter(lateClick)), after.late(ClickFlags.LATE_CLICKS));
    }

    @Test
    void restoredAtAnotherParallelismTheLowestWatermarkHolds() throws Exception {
        List<OperatorSubtaskState> snapshots = new ArrayList<>();
        for (int subtask = 0; subtask < 2; subtask++) {
            Flags before = flags(2, subtask);
            before.open();
            before.watermark(subtask == 0 ? 10_000 : 20_000);
            snapshots.add(before.snapshot(1, 1));
        }
        OperatorSubtaskState merged =
                AbstractStreamOperatorTestHarness.repackageState(snapshots.toArray(new OperatorSubtaskState[0]));

        Flags after = flags(1, 0);
        after.initializeState(
                AbstractStreamOperatorTestHarness.repartitionOperatorState(merged, MAX_PARALLELISM, 2, 1, 0));
        after.open();
        long late = after.impression("a", "c", 10_000 - BOUND);
        after.impression("b", "c", 10_000 - BOUND + 1);
        after.watermark(Long.MAX_VALUE);

        assertEquals(List.of(flag("c", 10_000 - BOUND + 1, false)), after.extractOutputValues());
        assertEquals(List.of(lateLetter(late)), after.late(ClickFlags.LATE_IMPRESSIONS));
    }

    private static Map<Tuple2<String, Long>, Tuple2<Long, Long>> total(
            String campaign, long windowStart, long impressions, long clicks) {
        return Map.of(Tuple2.of(campaign, windowStart), Tuple2.of(impressions, clicks));
    }

    /** The counts of {@code harness} once it has sent them all. */
    private static Map<Tuple2<String, Long>, Tuple2<Long, Long>> sentTotals(Flags harness) throws Exception {
        harness.setProcessingTime(harness.getProcessingTime() + ClickFlags.FLUSH_MS);
        return harness.countTotals();
    }

    @Test
    void acceptedImpressionIsCountedInItsWindow() throws Exception {
        Flags harness = counting();
        harness.impression("i", "c", 2 * WINDOW + 1);
        assertEquals(total("c", 2 * WINDOW, 1, 0), sentTotals(harness));
    }

    @Test
    void matchingClickIsCountedInItsImpressionsWindow() throws Exception {
        Flags harness = counting();
        harness.impression("i", "c", WINDOW - 1_000);
        harness.click("i", WINDOW + 1_000);
        assertEquals(total("c", 0, 1, 1), sentTotals(harness));
    }

    @Test
    void clickBeforeItsImpressionIsCountedWithIt() throws Exception {
        Flags harness = counting();
        harness.click("i", 2_000);
        assertEquals(Map.of(), sentTotals(harness));
        harness.impression("i", "c", 1_000);
        assertEquals(total("c", 0, 1, 1), sentTotals(harness));
    }

    @Test
    void lateImpressionIsNotCounted() throws Exception {
        Flags harness = counting();
        harness.watermark(1_000 + BOUND);
        harness.impression("i", "c", 1_000);
        assertEquals(Map.of(), sentTotals(harness));
    }

    @Test
    void duplicateImpressionIsNotCounted() throws Exception {
        Flags harness = counting();
        harness.impression("i", "c", 1_000);
        harness.impression("i", "c", 1_000);
        assertEquals(total("c", 0, 1, 0), sentTotals(harness));
    }

    @Test
    void secondClickIsNotCounted() throws Exception {
        Flags harness = counting();
        harness.impression("i", "c", 1_000);
        harness.click("i", 2_000);
        harness.click("i", 3_000);
        assertEquals(total("c", 0, 1, 1), sentTotals(harness));
    }

    @Test
    void clickPastTheBoundIsNotCounted() throws Exception {
        Flags harness = counting();
        harness.impression("i", "c", 1_000);
        harness.click("i", 1_000 + BOUND + 1);
        assertEquals(total("c", 0, 1, 0), sentTotals(harness));
    }

    @Test
    void lateClickIsNotCounted() throws Exception {
        Flags harness = counting();
        harness.impression("i", "c", 1_000);
        harness.watermark(1_000 + BOUND);
        harness.click("i", 2_000);
        assertEquals(total("c", 0, 1, 0), sentTotals(harness));
    }

    @Test
    void withoutACountWindowNothingIsCounted() throws Exception {
        Flags harness = opened();
        harness.impression("i", "c", 1_000);
        harness.click("i", 2_000);
        harness.watermark(Long.MAX_VALUE);
        assertEquals(Map.of(), sentTotals(harness));
    }

    @Test
    void countsAreSentOncePerFlushIntervalPreAggregated() throws Exception {
        Flags harness = counting();
        harness.impression("i", "c", 1_000);
        harness.impression("j", "c", 2_000);
        harness.click("i", 3_000);
        harness.setProcessingTime(ClickFlags.FLUSH_MS - 1);
        assertEquals(List.of(), harness.countRecords());
        harness.setProcessingTime(ClickFlags.FLUSH_MS);
        assertEquals(List.of(new StreamRecord<>(Tuple4.of("c", 0L, 2L, 1L), 0)), harness.countRecords());
    }

    /** Events of several campaigns and windows, duplicates, late ones and clicks past the bound among them. */
    private static void mixed(Flags harness) throws Exception {
        Random random = new Random(22);
        long latest = 0;
        for (int n = 0; n < 2_000; n++) {
            String id = "i" + random.nextInt(600);
            long at = n * 60 + random.nextInt(40_000);
            latest = Math.max(latest, at);
            if (random.nextInt(3) == 0) {
                harness.click(id, at);
            } else {
                harness.impression(id, "c" + random.nextInt(3), at);
            }
            if (n % 50 == 0) {
                harness.watermark(latest - 10_000);
            }
            if (n % 70 == 0) {
                harness.setProcessingTime(harness.getProcessingTime() + ClickFlags.FLUSH_MS);
            }
        }
        harness.watermark(Long.MAX_VALUE);
    }

    @Test
    void countsAddUpToTheFlagRowsPerWindow() throws Exception {
        Flags harness = counting();
        mixed(harness);
        assertEquals(harness.flagTotals(), harness.countTotals());
        assertTrue(harness.flagTotals().size() > 3, "several windows");
        assertTrue(harness.operator.lateImpressions.getCount() > 0, "some impressions late");
    }

    /** Records, side outputs and watermarks in the order the operator sends them. */
    private static final class InOrder implements Output<StreamRecord<Row>> {
        final List<Object> sent = new ArrayList<>();

        @Override
        public void collect(StreamRecord<Row> record) {
            sent.add(record.copy(record.getValue()));
        }

        @Override
        public <X> void collect(OutputTag<X> tag, StreamRecord<X> record) {
            sent.add(record.copy(record.getValue()));
        }

        @Override
        public void emitWatermark(Watermark mark) {
            sent.add(mark);
        }

        @Override
        public void emitWatermarkStatus(WatermarkStatus status) {}

        @Override
        public void emitLatencyMarker(LatencyMarker marker) {}

        @Override
        public void emitRecordAttributes(RecordAttributes attributes) {}

        @Override
        public void emitWatermark(WatermarkEvent event) {}

        @Override
        public void close() {}
    }

    @Test
    void countsAreSentBeforeTheWatermark() throws Exception {
        Flags harness = flags(WINDOW, 1, 0);
        InOrder output = new InOrder();
        harness.setOutputCreator(serializer -> output);
        harness.open();
        harness.impression("i", "c", 1_000);
        harness.watermark(2_000);
        assertEquals(
                List.of(new StreamRecord<>(Tuple4.of("c", 0L, 1L, 0L), 0), new Watermark(2_000 - BOUND)),
                output.sent);
    }

    @Test
    void countsAreSentBeforeTheCheckpointBarrier() throws Exception {
        Flags harness = counting();
        harness.impression("i", "c", 1_000);
        harness.prepareSnapshotPreBarrier(1);
        assertEquals(total("c", 0, 1, 0), harness.countTotals());
    }

    @Test
    void countsAreSentAtTheEndOfInput() throws Exception {
        Flags harness = counting();
        harness.impression("i", "c", 1_000);
        harness.getOperator().finish();
        assertEquals(total("c", 0, 1, 0), harness.countTotals());
    }
}
