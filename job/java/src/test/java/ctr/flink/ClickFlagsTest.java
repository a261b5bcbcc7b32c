package ctr.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Collectors;

import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.api.java.tuple.Tuple3;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.runtime.state.KeyGroupRangeAssignment;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.AbstractStreamOperatorTestHarness;
import org.apache.flink.streaming.util.KeyedTwoInputStreamOperatorTestHarness;
import org.apache.flink.types.Row;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** ClickFlags' keyed operator, one case at a time, in Flink's operator test harness. */
class ClickFlagsTest {

    private static final long BOUND = 15_000;
    private static final int MAX_PARALLELISM = 128;

    /** The operator in a keyed harness, with shorthands for its inputs. */
    private static final class Flags
            extends KeyedTwoInputStreamOperatorTestHarness<
                    String, Tuple3<String, String, Long>, Tuple2<String, Long>, Row> {
        Flags(int parallelism, int subtask) throws Exception {
            super(
                    new ClickFlags.FlagsOperator(BOUND),
                    impression -> impression.f0,
                    click -> click.f0,
                    Types.STRING,
                    MAX_PARALLELISM,
                    parallelism,
                    subtask);
        }

        void impression(String id, String campaign, long at) throws Exception {
            processElement1(new StreamRecord<>(Tuple3.of(id, campaign, at), at));
        }

        void click(String id, long at) throws Exception {
            processElement2(new StreamRecord<>(Tuple2.of(id, at), at));
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

    @Test
    void lateImpressionIsDropped() throws Exception {
        Flags harness = opened();
        harness.watermark(1_000 + BOUND);
        harness.impression("i", "c", 1_000);
        harness.watermark(Long.MAX_VALUE);
        assertEquals(List.of(), harness.extractOutputValues());
        assertEquals(0, harness.numKeyedStateEntries());
    }

    @Test
    void lateClickWithoutItsImpressionIsDropped() throws Exception {
        Flags harness = opened();
        harness.watermark(5_000);
        harness.click("i", 4_000);
        harness.impression("i", "c", 3_000);
        harness.watermark(Long.MAX_VALUE);
        assertEquals(List.of(flag("c", 3_000, false)), harness.extractOutputValues());
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
