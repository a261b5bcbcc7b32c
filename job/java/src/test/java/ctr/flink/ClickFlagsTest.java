package ctr.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.stream.Collectors;

import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.tuple.Tuple4;
import org.apache.flink.api.java.tuple.Tuple5;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.runtime.state.KeyGroupRangeAssignment;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.AbstractStreamOperatorTestHarness;
import org.apache.flink.streaming.util.KeyedTwoInputStreamOperatorTestHarness;
import org.apache.flink.types.Row;
import org.apache.flink.util.OutputTag;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** ClickFlags' keyed operator, one case at a time, in Flink's operator test harness. */
class ClickFlagsTest {

    private static final long BOUND = 15_000;
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

        Flags(int parallelism, int subtask) throws Exception {
            this(new ClickFlags.FlagsOperator(BOUND), parallelism, subtask);
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
    }

    /** Every harness a test makes, closed after it. */
    private final List<Flags> harnesses = new ArrayList<>();

    private Flags flags(int parallelism, int subtask) throws Exception {
        Flags harness = new Flags(parallelism, subtask);
        harnesses.add(harness);
        return harness;
    }

    private Flags opened() throws Exception {
        Flags harness = flags(1, 0);
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
}
