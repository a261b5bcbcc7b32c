package ctr.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.charset.StandardCharsets;

import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.table.api.ValidationException;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.types.logical.BigIntType;
import org.apache.flink.table.types.logical.LogicalType;
import org.apache.flink.table.types.logical.RowType;
import org.apache.flink.table.types.logical.VarCharType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The {@code ctr-event} format's parser: valid events, and each kind of malformed message with its reason. */
class EventDeserializationSchemaTest {

    private static final int ID = 0;
    private static final int CAMPAIGN = 1;
    private static final int TS = 2;
    private static final int REASON = 3;
    private static final int PAYLOAD = 4;
    private static final int MAX_STRING_LENGTH = 12;

    private static RowType impressions() {
        return RowType.of(
                new LogicalType[] {
                    VarCharType.STRING_TYPE, VarCharType.STRING_TYPE, new BigIntType(),
                    VarCharType.STRING_TYPE, VarCharType.STRING_TYPE
                },
                new String[] {"impr_id", "campaign_id", "ts", "reason", "payload"});
    }

    private static RowData parse(byte[] message) {
        EventDeserializationSchema schema =
                new EventDeserializationSchema(
                        impressions(), TypeInformation.of(RowData.class), MAX_STRING_LENGTH);
        schema.open(null);
        return schema.deserialize(message);
    }

    private static RowData parse(String message) {
        return parse(message.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void validEventFillsItsColumnsAndNoReason() {
        RowData row = parse("{\"ts\": 7, \"extra\": {\"a\": [1]}, \"impr_id\": \"i\", \"campaign_id\": \"c\"}");
        assertEquals("i", row.getString(ID).toString());
        assertEquals("c", row.getString(CAMPAIGN).toString());
        assertEquals(7L, row.getLong(TS));
        assertNull(row.getString(REASON));
        assertNull(row.getString(PAYLOAD));
    }

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource(
            delimiter = '|',
            quoteCharacter = '`',
            value = {
                "not json                                               | not a JSON object",
                "``                                                     | not a JSON object",
                "[1, 2]                                                 | not a JSON object",
                "{\"impr_id\": \"i\"                                    | not a JSON object",
                "{\"impr_id\": \"i\", \"campaign_id\": \"c\", \"ts\": 1} {} | not a JSON object",
                "{\"campaign_id\": \"c\", \"ts\": 1}                    | missing field impr_id",
                "{\"impr_id\": \"i\", \"campaign_id\": null, \"ts\": 1} | missing field campaign_id",
                "{\"impr_id\": 5, \"campaign_id\": \"c\", \"ts\": 1}    | field impr_id is not STRING",
                "{\"impr_id\": \"i\", \"campaign_id\": \"c\", \"ts\": \"1\"} | field ts is not BIGINT",
                "{\"impr_id\": \"i\", \"campaign_id\": \"c\", \"ts\": 1.5} | field ts is not BIGINT",
                "{\"impr_id\": \"i\", \"campaign_id\": \"c\", \"ts\": 9223372036854775808} | field ts is not BIGINT",
                "{\"ts\": \"late\", \"campaign_id\": [\"c\"]}           | missing field impr_id",
                "{\"impr_id\": \"i\", \"ts\": \"late\", \"campaign_id\": {}} | field campaign_id is not STRING",
            })
    void malformedMessageGivesItsReasonAndItsText(String message, String reason) {
        RowData row = parse(message);
        assertEquals(reason, row.getString(REASON).toString());
        assertEquals(message, row.getString(PAYLOAD).toString());
        assertNull(row.getString(ID));
    }

    /** JSON string literals (as in a message) and the ids they are: each one a valid campaign_id. */
    @ParameterizedTest(name = "{0}")
    @CsvSource(
            delimiter = '|',
            quoteCharacter = '`',
            value = {
                "\"a,b\"                     | a,b",
                "\"say \\\"hi\\\"\"    | say \"hi\"",
                "\"back\\\\slash\"       | back\\slash",
                "\"../x\"                    | ../x",
                "\"a/b\"                     | a/b",
                "\"caf\u00e9 \\u00e9\"    | caf\u00e9 \u00e9",
                "\"\\ud83d\\ude00 pair\" | \ud83d\ude00 pair",
                "\"twelve chars\"            | twelve chars",
                "\"\ud83d\ude00\ud83d\ude00\ud83d\ude00\ud83d\ude00\ud83d\ude00\ud83d\ude00"
                        + "\ud83d\ude00\ud83d\ude00\ud83d\ude00\ud83d\ude00\ud83d\ude00\ud83d\ude00\""
                        + " | \ud83d\ude00\ud83d\ude00\ud83d\ude00\ud83d\ude00\ud83d\ude00\ud83d\ude00"
                        + "\ud83d\ude00\ud83d\ude00\ud83d\ude00\ud83d\ude00\ud83d\ude00\ud83d\ude00",
                "\"\"                        | ``",
            })
    void unusualIdWithinTheRuleIsValid(String literal, String id) {
        RowData row = parse("{\"impr_id\": \"i\", \"campaign_id\": " + literal + ", \"ts\": 1}");
        assertNull(row.getString(REASON));
        assertEquals(id, row.getString(CAMPAIGN).toString());
    }

    /** JSON string literals of ids outside the rule, and the reason each message is dead-lettered with. */
    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource(
            delimiter = '|',
            quoteCharacter = '`',
            value = {
                "\"thirteen char\"        | field campaign_id is longer than 12 characters",
                "\"line\\nbreak\"       | field campaign_id has a control character",
                "\"tab\\there\"         | field campaign_id has a control character",
                "\"cr\\r\"              | field campaign_id has a control character",
                "\"nul\\u0000\"         | field campaign_id has a control character",
                "\"del\\u007f\"         | field campaign_id has a control character",
                "\"nel\\u0085\"         | field campaign_id has a control character",
                "\"ls\\u2028\"          | field campaign_id has a control character",
                "\"ps\\u2029\"          | field campaign_id has a control character",
                "\"half \\ud800\"       | field campaign_id has an unpaired surrogate",
                "\"half \\ude00 x\"     | field campaign_id has an unpaired surrogate",
            })
    void idOutsideTheRuleIsMalformed(String literal, String reason) {
        String message = "{\"impr_id\": \"i\", \"campaign_id\": " + literal + ", \"ts\": 1}";
        RowData row = parse(message);
        assertEquals(reason, row.getString(REASON).toString());
        assertEquals(message, row.getString(PAYLOAD).toString());
        assertNull(row.getString(CAMPAIGN));
    }

    @Test
    void firstBadFieldInColumnOrderGivesTheReason() {
        RowData row = parse("{\"campaign_id\": \"a\\tb\", \"impr_id\": \"fourteen chars\", \"ts\": 1}");
        assertEquals("field impr_id is longer than 12 characters", row.getString(REASON).toString());
    }

    @Test
    void tombstoneIsNotAJsonObjectWithoutPayload() {
        RowData row = parse((byte[]) null);
        assertEquals("not a JSON object", row.getString(REASON).toString());
        assertNull(row.getString(PAYLOAD));
    }

    @Test
    void tableWithoutReasonAndPayloadColumnsIsRejected() {
        RowType withoutPayload =
                RowType.of(
                        new LogicalType[] {VarCharType.STRING_TYPE, VarCharType.STRING_TYPE},
                        new String[] {"impr_id", "reason"});
        ValidationException error =
                assertThrows(
                        ValidationException.class,
                        () -> new EventDeserializationSchema(
                                withoutPayload, TypeInformation.of(RowData.class), MAX_STRING_LENGTH));
        assertEquals(
                "format 'ctr-event' needs the columns 'reason STRING' and 'payload STRING'", error.getMessage());
    }
}
