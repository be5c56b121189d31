/* Error classifier against the real Gemini error bodies of reference/gemini-api.md §3. */
#include <string.h>

#include "lib/classify.h"

#include "unit.h"

static struct classify_result run(unsigned status, const char *body)
{
    struct classify_result r;
    classify_upstream(classify_default(), status, body, body ? strlen(body) : 0, &r);
    return r;
}

static const char *const invalid_key =
    "{\n  \"error\": {\n    \"code\": 400,\n    \"message\": \"API key not valid. Please pass a "
    "valid "
    "API key.\",\n    \"status\": \"INVALID_ARGUMENT\",\n    \"details\": [\n      {\"@type\": "
    "\"type.googleapis.com/google.rpc.ErrorInfo\", \"reason\": \"API_KEY_INVALID\", \"domain\": "
    "\"googleapis.com\", \"metadata\": {\"service\": \"generativelanguage.googleapis.com\"}},\n    "
    "  "
    "{\"@type\": \"type.googleapis.com/google.rpc.LocalizedMessage\", \"locale\": \"en-US\", "
    "\"message\": \"API key not valid. Please pass a valid API key.\"}\n    ]\n  }\n}\n";

static const char *const suspended =
    "{\"error\": {\"code\": 403, \"message\": \"Permission denied: Consumer 'api_key:AIzaSy...' "
    "has "
    "been suspended.\", \"status\": \"PERMISSION_DENIED\", \"details\": [{\"@type\": "
    "\"type.googleapis.com/google.rpc.ErrorInfo\", \"reason\": \"CONSUMER_SUSPENDED\", \"domain\": "
    "\"googleapis.com\", \"metadata\": {\"consumer\": \"projects/895908428397\", \"service\": "
    "\"generativelanguage.googleapis.com\", \"containerInfo\": \"api_key:AIzaSy...\"}}]}}";

static const char *const per_day_2025 =
    "{\"error\": {\"code\": 429, \"message\": \"You exceeded your current quota, please check your "
    "plan and billing details.\", \"status\": \"RESOURCE_EXHAUSTED\", \"details\": [{\"@type\": "
    "\"type.googleapis.com/google.rpc.QuotaFailure\", \"violations\": [{\"quotaMetric\": "
    "\"generativelanguage.googleapis.com/generate_content_free_tier_requests\", \"quotaId\": "
    "\"GenerateRequestsPerDayPerProjectPerModel-FreeTier\", \"quotaDimensions\": {\"location\": "
    "\"global\", \"model\": \"gemini-2.5-flash\"}, \"quotaValue\": \"250\"}]}, {\"@type\": "
    "\"type.googleapis.com/google.rpc.Help\", \"links\": [{\"description\": \"Learn more\", "
    "\"url\": "
    "\"https://ai.google.dev/gemini-api/docs/rate-limits\"}]}, {\"@type\": "
    "\"type.googleapis.com/google.rpc.RetryInfo\", \"retryDelay\": \"22s\"}]}}";

static const char *const per_minute =
    "{\"error\": {\"code\": 429, \"message\": \"quota\", \"status\": \"RESOURCE_EXHAUSTED\", "
    "\"details\": [{\"@type\": \"type.googleapis.com/google.rpc.QuotaFailure\", \"violations\": "
    "[{\"quotaId\": \"GenerateRequestsPerMinutePerProjectPerModel-FreeTier\", \"quotaDimensions\": "
    "{\"model\": \"gemini-2.5-pro\"}, \"quotaValue\": \"5\"}]}, {\"@type\": "
    "\"type.googleapis.com/google.rpc.RetryInfo\", \"retryDelay\": \"38.962214405s\"}]}}";

static const char *const per_minute_tokens =
    "{\"error\": {\"code\": 429, \"message\": \"quota\", \"status\": \"RESOURCE_EXHAUSTED\", "
    "\"details\": [{\"@type\": \"type.googleapis.com/google.rpc.QuotaFailure\", \"violations\": "
    "[{\"quotaMetric\": "
    "\"generativelanguage.googleapis.com/generate_content_free_tier_input_token_count\", "
    "\"quotaId\": \"GenerateContentInputTokensPerModelPerMinute-FreeTier\", \"quotaDimensions\": "
    "{\"model\": \"gemini-2.5-flash\"}, \"quotaValue\": \"250000\"}]}, {\"@type\": "
    "\"type.googleapis.com/google.rpc.RetryInfo\", \"retryDelay\": \"12s\"}]}}";

/* the 2026 form: Help first, several violations, limit: 0 in the message, no quotaValue */
static const char *const limit_zero =
    "{\"error\": {\"code\": 429, \"message\": \"You exceeded your current quota... \\n* Quota "
    "exceeded for metric: generativelanguage.googleapis.com/generate_content_free_tier_requests, "
    "limit: 0, model: gemini-2.5-pro\\n* Quota exceeded for metric: "
    "generativelanguage.googleapis.com/generate_content_free_tier_input_token_count, limit: 0, "
    "model: gemini-2.5-pro\\nPlease retry in 38.962214405s.\", \"status\": \"RESOURCE_EXHAUSTED\", "
    "\"details\": [{\"@type\": \"type.googleapis.com/google.rpc.Help\", \"links\": []}, "
    "{\"@type\": "
    "\"type.googleapis.com/google.rpc.QuotaFailure\", \"violations\": [{\"quotaMetric\": "
    "\"generativelanguage.googleapis.com/generate_content_free_tier_requests\", \"quotaId\": "
    "\"GenerateRequestsPerDayPerProjectPerModel-FreeTier\", \"quotaDimensions\": {\"location\": "
    "\"global\", \"model\": \"gemini-2.5-pro\"}}, {\"quotaId\": "
    "\"GenerateContentInputTokensPerModelPerMinute-FreeTier\"}]}, {\"@type\": "
    "\"type.googleapis.com/google.rpc.RetryInfo\", \"retryDelay\": \"38s\"}]}}";

static void test_key_dead(void **state)
{
    (void)state;
    struct classify_result r = run(400, invalid_key);
    assert_int_equal(r.cls, EC_KEY_DEAD);
    assert_string_equal(r.reason, "API_KEY_INVALID");
    r = run(403, suspended);
    assert_int_equal(r.cls, EC_KEY_DEAD);
    assert_string_equal(r.reason, "CONSUMER_SUSPENDED");
    r = run(403, "{\"error\":{\"code\":403,\"message\":\"Requests from referer <empty> are "
                 "blocked.\",\"status\":\"PERMISSION_DENIED\"}}");
    assert_int_equal(r.cls, EC_KEY_DEAD);
    /* the array-wrapped form of the OpenAI-compatible endpoint */
    r = run(400,
            "[{\"error\":{\"code\":400,\"status\":\"INVALID_ARGUMENT\",\"details\":[{\"@type\":"
            "\"type.googleapis.com/google.rpc.ErrorInfo\",\"reason\":\"API_KEY_INVALID\"}]}}]");
    assert_int_equal(r.cls, EC_KEY_DEAD);
}

static void test_quota(void **state)
{
    (void)state;
    struct classify_result r = run(429, per_day_2025);
    assert_int_equal(r.cls, EC_QUOTA_DAY);
    assert_int_equal(r.retry_delay_ms, 22000);
    assert_int_equal(r.quota_value, 250);
    assert_string_equal(r.model, "gemini-2.5-flash");
    r = run(429, per_minute);
    assert_int_equal(r.cls, EC_QUOTA_MINUTE);
    assert_int_equal(r.retry_delay_ms, 38963);
    assert_int_equal(r.quota_value, 5);
    assert_string_equal(r.model, "gemini-2.5-pro");
    assert_int_equal(classify_quota_kind(r.quota_id), QK_RPM); /* learnt as the RPM limit */
    r = run(429, per_minute_tokens);
    assert_int_equal(r.cls, EC_QUOTA_MINUTE);
    assert_int_equal(r.quota_value, 250000);
    assert_int_equal(classify_quota_kind(r.quota_id), QK_TPM); /* input tokens, not requests */
    r = run(429, per_day_2025);
    assert_int_equal(classify_quota_kind(r.quota_id), QK_RPD);
    assert_int_equal(classify_quota_kind("GenerateContentRequestsPerMinutePerProjectPerRegion"),
                     QK_RPM);
    assert_int_equal(classify_quota_kind("GenerateContentInputTokensPerModelPerDay"), QK_NONE);
    assert_int_equal(classify_quota_kind("FileStorageBytesPerProject"), QK_NONE);
    r = run(429, limit_zero);
    assert_int_equal(r.cls, EC_QUOTA_ZERO);
    assert_int_equal(r.retry_delay_ms, 38000);
    /* the oldest bare form: no details at all */
    r = run(429, "{\"error\":{\"code\":429,\"message\":\"Resource has been exhausted (e.g. check "
                 "quota).\",\"status\":\"RESOURCE_EXHAUSTED\"}}");
    assert_int_equal(r.cls, EC_QUOTA_MINUTE);
    assert_int_equal(r.retry_delay_ms, 0);
}

static void test_transient_and_client(void **state)
{
    (void)state;
    assert_int_equal(run(500, "{\"error\": {\"code\": 500, \"message\": \"An internal error has "
                              "occurred.\", \"status\": \"INTERNAL\"}}")
                         .cls,
                     EC_TRANSIENT);
    assert_int_equal(run(503, "{\"error\": {\"code\": 503, \"message\": \"The model is overloaded. "
                              "Please try again later.\", \"status\": \"UNAVAILABLE\"}}")
                         .cls,
                     EC_TRANSIENT);
    assert_int_equal(run(504, NULL).cls, EC_TRANSIENT);
    assert_int_equal(run(0, NULL).cls, EC_TRANSIENT);
    assert_int_equal(run(404, "{\"error\": {\"code\": 404, \"message\": \"models/gemini-pro is not "
                              "found for API version v1beta\", \"status\": \"NOT_FOUND\"}}")
                         .cls,
                     EC_CLIENT);
    assert_int_equal(run(400, "{\"error\":{\"code\":400,\"message\":\"Request contains an invalid "
                              "argument.\",\"status\":\"INVALID_ARGUMENT\"}}")
                         .cls,
                     EC_CLIENT);
    assert_int_equal(run(400, "not json at all").cls, EC_CLIENT);
    /* a file owned by another project is the caller's problem, not the key's */
    assert_int_equal(run(403,
                         "{\"error\":{\"code\":403,\"message\":\"You do not have permission to "
                         "access the File abc or it may not exist.\",\"status\":"
                         "\"PERMISSION_DENIED\"}}")
                         .cls,
                     EC_CLIENT);
    assert_int_equal(run(200, "{}").cls, EC_NONE);
}

static void test_retry_forever(void **state)
{
    (void)state;
    struct classify_result r = run(
        429, "{\"error\":{\"code\":429,\"status\":\"RESOURCE_EXHAUSTED\",\"details\":[{\"@type\":"
             "\"type.googleapis.com/google.rpc.QuotaFailure\",\"violations\":[{\"quotaId\":"
             "\"FileStorageBytesPerProject\"}]},{\"@type\":\"type.googleapis.com/"
             "google.rpc.RetryInfo\",\"retryDelay\":\"9223372036854775807s\"}]}}");
    assert_int_equal(r.cls, EC_QUOTA_MINUTE);
    assert_true(r.retry_delay_ms == UINT64_MAX);
}

static void test_table_is_data(void **state)
{
    (void)state;
    struct classify_table *t = NULL;
    struct classify_result r;
    char err[128];
    const char *json = "[{\"status\":503,\"class\":\"client\"},"
                       "{\"status\":429,\"field\":\"quota_id\",\"match\":\"PerMinute\","
                       "\"class\":\"quota_day\"},{\"status\":0,\"class\":\"transient\"}]";

    assert_int_equal(classify_table_parse(json, &t, err, sizeof(err)), ST_OK);
    classify_upstream(t, 503, NULL, 0, &r);
    assert_int_equal(r.cls, EC_CLIENT);
    classify_upstream(t, 429, per_minute, strlen(per_minute), &r);
    assert_int_equal(r.cls, EC_QUOTA_DAY);
    classify_upstream(t, 418, NULL, 0, &r);
    assert_int_equal(r.cls, EC_TRANSIENT);
    classify_table_free(t);

    assert_int_equal(classify_table_parse("{}", &t, err, sizeof(err)), ST_INVALID);
    assert_int_equal(
        classify_table_parse("[{\"status\":429,\"class\":\"bogus\"}]", &t, err, sizeof(err)),
        ST_INVALID);
    assert_int_equal(classify_table_parse("[{\"status\":429,\"field\":\"reason\",\"class\":"
                                          "\"key_dead\"}]",
                                          &t, err, sizeof(err)),
                     ST_INVALID);
    assert_non_null(strstr(err, "match"));
    assert_string_equal(classify_name(EC_QUOTA_ZERO), "quota_zero");
    assert_true(classify_retryable(EC_TRANSIENT));
    assert_false(classify_retryable(EC_CLIENT));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_dead),
        cmocka_unit_test(test_quota),
        cmocka_unit_test(test_transient_and_client),
        cmocka_unit_test(test_retry_forever),
        cmocka_unit_test(test_table_is_data),
    };
    return cmocka_run_group_tests_name("classify", tests, NULL, NULL);
}
