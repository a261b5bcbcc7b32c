package ctr.flink;

import java.util.HashMap;
import java.util.Map;

import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.table.functions.FunctionContext;
import org.apache.flink.table.functions.ScalarFunction;

/**
 * {@code ctr_campaign_gauge(campaign_id, window_start, ctr)}: keeps the CTR of each campaign's newest
 * window (the greatest {@code window_start}; the job's window times sort as text) in a Flink gauge,
 * {@code campaign.ctr} with the campaign as a label (Prometheus:
 * {@code flink_taskmanager_job_task_operator_campaign_ctr{campaign="..."}}), and returns it. A row of
 * an older window than the one shown (a final row that comes after the next window's first live row)
 * leaves the gauge as it is.
 */
public final class CampaignCtrGauge extends ScalarFunction {

    private transient MetricGroup group;
    private transient Map<String, double[]> latest;
    private transient Map<String, String> newestWindow;

    @Override
    public void open(FunctionContext context) {
        group = context.getMetricGroup();
        latest = new HashMap<>();
        newestWindow = new HashMap<>();
    }

    public Double eval(String campaignId, String windowStart, Double ctr) {
        if (campaignId == null || windowStart == null || ctr == null) {
            return ctr;
        }
        String shown = newestWindow.get(campaignId);
        if (shown != null && shown.compareTo(windowStart) > 0) {
            return ctr;
        }
        newestWindow.put(campaignId, windowStart);
        double[] value = latest.get(campaignId);
        if (value == null) {
            double[] created = new double[1];
            group.addGroup("campaign", campaignId).gauge("ctr", (Gauge<Double>) () -> created[0]);
            latest.put(campaignId, created);
            value = created;
        }
        value[0] = ctr;
        return ctr;
    }

    @Override
    public boolean isDeterministic() {
        return false;
    }
}
