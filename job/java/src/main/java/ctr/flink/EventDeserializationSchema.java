package ctr.flink;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonFactory;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonParser;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonToken;
import org.apache.flink.table.api.ValidationException;
import org.apache.flink.table.data.GenericRowData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.types.logical.LogicalTypeRoot;
import org.apache.flink.table.types.logical.RowType;

/**
 * Parses one event message in a single pass. Never throws on bad input: the first problem, checked
 * in column order, becomes the row's {@code reason}: "not a JSON object" (also for a message that is
 * not JSON at all, an empty one or a tombstone), "missing field X" (absent or null), "field X is not
 * STRING" or "field X is not BIGINT" (including integers outside BIGINT's range).
 *
 * <p>A STRING value must also be an id every output can hold as it is (the CSV files, the results
 * topic, {@code ctr results}' table): "field X is longer than N characters" (Unicode code points; N
 * is the format's {@code max-string-length}), "field X has a control character" (Unicode category
 * Cc, Zl or Zp: tabs, newlines and other line breaks), "field X has an unpaired surrogate" (Cs: a
 * JSON escape of half a UTF-16 pair, which is no character). ctr.events in Python applies the same rule.
 */
public final class EventDeserializationSchema implements DeserializationSchema<RowData> {

    private static final long serialVersionUID = 1L;
    static final String REASON = "reason";
    static final String PAYLOAD = "payload";

    private final TypeInformation<RowData> producedType;
    private final String[] names;
    private final boolean[] isBigint;
    private final int reasonIndex;
    private final int payloadIndex;
    private final int maxStringLength;
    /** The indexes of the event's own columns: all but {@code reason} and {@code payload}. */
    private final int[] eventColumns;

    private transient JsonFactory jsonFactory;
    private transient Map<String, Integer> indexByName;
    private transient Object[] values;
    private transient String[] problems;

    public EventDeserializationSchema(RowType rowType, TypeInformation<RowData> producedType, int maxStringLength) {
        this.producedType = producedType;
        this.maxStringLength = maxStringLength;
        List<String> fieldNames = rowType.getFieldNames();
        this.names = fieldNames.toArray(new String[0]);
        this.isBigint = new boolean[names.length];
        this.reasonIndex = fieldNames.indexOf(REASON);
        this.payloadIndex = fieldNames.indexOf(PAYLOAD);
        if (reasonIndex < 0 || payloadIndex < 0) {
            throw new ValidationException("format 'ctr-event' needs the columns 'reason STRING' and 'payload STRING'");
        }
        for (int i = 0; i < names.length; i++) {
            LogicalTypeRoot root = rowType.getTypeAt(i).getTypeRoot();
            boolean text = root == LogicalTypeRoot.VARCHAR || root == LogicalTypeRoot.CHAR;
            if (!text && (root != LogicalTypeRoot.BIGINT || i == reasonIndex || i == payloadIndex)) {
                throw new ValidationException("format 'ctr-event' supports STRING and BIGINT columns; column '"
                        + names[i] + "' is " + rowType.getTypeAt(i));
            }
            isBigint[i] = root == LogicalTypeRoot.BIGINT;
        }
        this.eventColumns = IntStream.range(0, names.length)
                .filter(i -> i != reasonIndex && i != payloadIndex).toArray();
    }

    @Override
    public void open(InitializationContext context) {
        jsonFactory = new JsonFactory();
        indexByName = new HashMap<>();
        for (int i : eventColumns) {
            indexByName.put(names[i], i);
        }
        values = new Object[names.length];
        problems = new String[names.length];
    }

    @Override
    public RowData deserialize(byte[] message) {
        String reason = message == null ? "not a JSON object" : parse(message);
        GenericRowData row = new GenericRowData(names.length);
        if (reason == null) {
            for (int i : eventColumns) {
                row.setField(i, isBigint[i] ? values[i] : StringData.fromString((String) values[i]));
            }
        } else {
            row.setField(reasonIndex, StringData.fromString(reason));
            if (message != null) {
                row.setField(payloadIndex, StringData.fromString(new String(message, StandardCharsets.UTF_8)));
            }
        }
        return row;
    }

    /** Fills {@code values} from the message; returns null when it is a valid event, else why not. */
    private String parse(byte[] message) {
        Arrays.fill(values, null);
        Arrays.fill(problems, null);
        try (JsonParser parser = jsonFactory.createParser(message)) {
            if (parser.nextToken() != JsonToken.START_OBJECT) {
                return "not a JSON object";
            }
            for (JsonToken token = parser.nextToken(); token == JsonToken.FIELD_NAME; token = parser.nextToken()) {
                Integer index = indexByName.get(parser.currentName());
                JsonToken value = parser.nextToken();
                if (index == null) {
                    parser.skipChildren();
                } else {
                    read(parser, value, index);
                }
            }
            if (parser.currentToken() != JsonToken.END_OBJECT || parser.nextToken() != null) {
                return "not a JSON object";
            }
        } catch (IOException malformed) {
            return "not a JSON object";
        }
        for (int i : eventColumns) {
            if (problems[i] != null) {
                return problems[i];
            }
            if (values[i] == null) {
                return "missing field " + names[i];
            }
        }
        return null;
    }

    private void read(JsonParser parser, JsonToken value, int index) throws IOException {
        values[index] = null;
        problems[index] = null;
        if (value == JsonToken.VALUE_NULL) {
            return;
        }
        if (isBigint[index] && value == JsonToken.VALUE_NUMBER_INT
                && parser.getNumberType() != JsonParser.NumberType.BIG_INTEGER) {
            values[index] = parser.getLongValue();
        } else if (!isBigint[index] && value == JsonToken.VALUE_STRING) {
            String text = parser.getText();
            problems[index] = textProblem(text, names[index]);
            values[index] = problems[index] == null ? text : null;
        } else {
            parser.skipChildren();
            problems[index] = "field " + names[index] + " is not " + (isBigint[index] ? "BIGINT" : "STRING");
        }
    }

    /** Why {@code text} is no valid STRING value of field {@code name}, or null when it is one. */
    private String textProblem(String text, String name) {
        if (text.length() > maxStringLength && text.codePointCount(0, text.length()) > maxStringLength) {
            return "field " + name + " is longer than " + maxStringLength + " characters";
        }
        for (int i = 0; i < text.length(); ) {
            int codePoint = text.codePointAt(i);
            int type = Character.getType(codePoint);
            if (type == Character.CONTROL || type == Character.LINE_SEPARATOR
                    || type == Character.PARAGRAPH_SEPARATOR) {
                return "field " + name + " has a control character";
            }
            if (type == Character.SURROGATE) {
                return "field " + name + " has an unpaired surrogate";
            }
            i += Character.charCount(codePoint);
        }
        return null;
    }

    @Override
    public boolean isEndOfStream(RowData nextElement) {
        return false;
    }

    @Override
    public TypeInformation<RowData> getProducedType() {
        return producedType;
    }
}
