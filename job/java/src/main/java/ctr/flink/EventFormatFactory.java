package ctr.flink;

import java.util.Set;

import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.table.connector.ChangelogMode;
import org.apache.flink.table.connector.format.DecodingFormat;
import org.apache.flink.table.connector.source.DynamicTableSource;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.factories.DeserializationFormatFactory;
import org.apache.flink.table.factories.DynamicTableFactory;
import org.apache.flink.table.factories.FactoryUtil;
import org.apache.flink.table.types.DataType;
import org.apache.flink.table.types.logical.RowType;

/**
 * The {@code ctr-event} format: each message is parsed once into the table's event columns, and a
 * malformed one becomes a row with only {@code reason} (why) and {@code payload} (its text) set, so
 * that the job can send it to the dead-letter topic instead of losing it or failing.
 *
 * <p>The table's physical columns are the JSON fields of the event (STRING or BIGINT), plus
 * {@code reason STRING} and {@code payload STRING}. The option {@code max-string-length} (required)
 * is the most characters a STRING value may have (see {@link EventDeserializationSchema}).
 */
public final class EventFormatFactory implements DeserializationFormatFactory {

    public static final String IDENTIFIER = "ctr-event";

    /** The most Unicode code points a STRING field may have; a longer one makes the message malformed. */
    public static final ConfigOption<Integer> MAX_STRING_LENGTH =
            ConfigOptions.key("max-string-length").intType().noDefaultValue()
                    .withDescription("the most characters a STRING field may have");

    @Override
    public DecodingFormat<DeserializationSchema<RowData>> createDecodingFormat(
            DynamicTableFactory.Context context, ReadableConfig formatOptions) {
        FactoryUtil.validateFactoryOptions(this, formatOptions);
        int maxStringLength = formatOptions.get(MAX_STRING_LENGTH);
        return new DecodingFormat<DeserializationSchema<RowData>>() {
            @Override
            public DeserializationSchema<RowData> createRuntimeDecoder(
                    DynamicTableSource.Context sourceContext, DataType physicalDataType) {
                RowType rowType = (RowType) physicalDataType.getLogicalType();
                return new EventDeserializationSchema(
                        rowType, sourceContext.createTypeInformation(physicalDataType), maxStringLength);
            }

            @Override
            public ChangelogMode getChangelogMode() {
                return ChangelogMode.insertOnly();
            }
        };
    }

    @Override
    public String factoryIdentifier() {
        return IDENTIFIER;
    }

    @Override
    public Set<ConfigOption<?>> requiredOptions() {
        return Set.of(MAX_STRING_LENGTH);
    }

    @Override
    public Set<ConfigOption<?>> optionalOptions() {
        return Set.of();
    }
}
