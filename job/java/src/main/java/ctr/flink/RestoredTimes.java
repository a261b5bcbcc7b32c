package ctr.flink;

import org.apache.flink.api.common.state.ListState;

/** Times kept in union list state (one entry per subtask), as a restored subtask reads them. */
final class RestoredTimes {

    private RestoredTimes() {}

    /** The lowest of the times in {@code state}, or {@code none} when it holds none (a checkpoint without them). */
    static long lowest(ListState<Long> state, long none) throws Exception {
        long lowest = Long.MAX_VALUE;
        boolean kept = false;
        for (long each : state.get()) {
            lowest = Math.min(lowest, each);
            kept = true;
        }
        return kept ? lowest : none;
    }
}
