/*
 * The OpenAI chat answer's two paths: answers of text parts are read in place (gscan) and their
 * strings copied as they came; the rest are parsed (jansson). Both must say the same thing. Every
 * recording's answer goes through both, whole and chunk by chunk, then thousands of mutations
 * of them (a flipped byte, an escape, a non-ASCII byte, a number's exponent, ...): the status,
 * and when it is OK the JSON written, must be equal. Then the cases the scan must refuse.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gscan.h"
#include "oai.h"
#include "oai_int.h"
#include "recordings.h"
#include "unit.h"

/* A fresh call as a chat route starts one. */
static void call_init(struct oai_call *oc, bool stream)
{
    memset(oc, 0, sizeof(*oc));
    oc->kind = OAI_CHAT;
    oc->created = 1700000000;
    oc->stream = oc->include_usage = stream;
    (void)snprintf(oc->model, sizeof(oc->model), "gemini-2.5-flash");
}

/* The SSE events of out (or its one object) as a JSON array; out's text is left as it was. */
static json_t *events_of(const struct buf *out)
{
    json_t *all = json_array();
    char *text = strndup(out->data ? out->data : "", out->len);

    assert_non_null(text);
    if (out->len && strncmp(text, "data: ", 6) != 0) { /* a whole answer: one object */
        json_t *v = json_loads(text, 0, NULL);
        assert_non_null(v);
        (void)json_array_append_new(all, v);
        free(text);
        return all;
    }
    for (char *p = text; (p = strstr(p, "data: ")) != NULL;) {
        char *end = strstr(p, "\n\n");
        assert_non_null(end);
        *end = '\0';
        json_t *v =
            strcmp(p + 6, "[DONE]") == 0 ? json_string("[DONE]") : json_loads(p + 6, 0, NULL);
        assert_non_null(v); /* what either path writes is JSON */
        (void)json_array_append_new(all, v);
        p = end + 2;
    }
    free(text);
    return all;
}

/* The same answer (one body, or the next chunk of calls a and b) on both paths: equal status,
 * equal JSON. Returns whether the scan took it. */
static bool same(struct oai_call *a, struct oai_call *b, const char *json, size_t len, bool stream)
{
    struct buf x, y;
    enum status sx, sy;
    bool ex = false, ey = false;
    struct gscan g;
    bool fast = gscan_answer(json, len, &g);

    buf_init(&x, 1u << 24);
    buf_init(&y, 1u << 24);
    if (stream) {
        sx = oai_stream_chunk(a, json, len, &x);
        sy = oai_stream_chunk_json(b, json, len, &y);
    } else {
        sx = oai_chat_response(a, json, len, &x, &ex);
        sy = oai_chat_response_json(b, json, len, &y, &ey);
    }
    assert_int_equal(sx, sy);
    if (sx == ST_OK) {
        json_t *jx = events_of(&x), *jy = events_of(&y);
        if (!json_equal(jx, jy)) {
            (void)fprintf(stderr, "in:  %.*s\nscan:   %.*s\nparser: %.*s\n", (int)len, json,
                          (int)x.len, x.data, (int)y.len, y.data);
            fail();
        }
        assert_int_equal(ex, ey);
        json_decref(jx);
        json_decref(jy);
    }
    buf_done(&x);
    buf_done(&y);
    return fast;
}

/* A whole stream on both paths, ending included. Returns how many chunks the scan took. */
static size_t same_stream(char **chunks, const size_t *lens, size_t n)
{
    struct oai_call a, b;
    struct buf x, y;
    size_t fast = 0;

    call_init(&a, true);
    call_init(&b, true);
    for (size_t i = 0; i < n; i++)
        fast += same(&a, &b, chunks[i], lens[i], true);
    assert_int_equal(oai_stream_empty(&a), oai_stream_empty(&b));
    buf_init(&x, 1u << 20);
    buf_init(&y, 1u << 20);
    oai_stream_end(&a, &x);
    oai_stream_end(&b, &y);
    json_t *jx = events_of(&x), *jy = events_of(&y);
    assert_true(json_equal(jx, jy));
    json_decref(jx);
    json_decref(jy);
    buf_done(&x);
    buf_done(&y);
    oai_call_done(&a);
    oai_call_done(&b);
    return fast;
}

/* Each recording's answer as text (jansson's formatting, spaces after ':' and ','). */
struct answers {
    char *text[512];
    size_t len[512], n;
    size_t first[64], count[64], nrec; /* per recording: its chunks */
    bool stream[64];
};

static void load(struct answers *an)
{
    char **names = rec_names();
    struct rec r;

    memset(an, 0, sizeof(*an));
    for (size_t i = 0; names[i] && an->nrec < 64; i++) {
        size_t k;
        json_t *t;
        if (!rec_open(names[i], &r))
            continue;
        an->first[an->nrec] = an->n;
        an->stream[an->nrec] = r.stream;
        json_array_foreach(r.segs, k, t)
        {
            if (an->n == 512 || (!r.stream && k > 0))
                break;
            an->text[an->n] = json_dumps(t, 0);
            an->len[an->n] = strlen(an->text[an->n]);
            an->n++;
        }
        an->count[an->nrec] = an->n - an->first[an->nrec];
        an->nrec++;
        rec_close(&r);
    }
    rec_names_free(names);
}

static void unload(struct answers *an)
{
    for (size_t i = 0; i < an->n; i++)
        free(an->text[i]);
}

static size_t run(struct answers *an, size_t rec)
{
    struct oai_call a, b;
    size_t fast;

    if (an->stream[rec])
        return same_stream(&an->text[an->first[rec]], &an->len[an->first[rec]], an->count[rec]);
    call_init(&a, false);
    call_init(&b, false);
    fast = same(&a, &b, an->text[an->first[rec]], an->len[an->first[rec]], false);
    oai_call_done(&a);
    oai_call_done(&b);
    return fast;
}

static void test_recordings(void **state)
{
    struct answers an;
    size_t fast = 0;

    (void)state;
    load(&an);
    assert_true(an.nrec >= 14);
    for (size_t r = 0; r < an.nrec; r++)
        fast += run(&an, r);
    /* most answers are text: the scan takes them (the others: calls, images, ...) */
    assert_true(fast * 2 >= an.n);
    unload(&an);
}

static void test_mutations(void **state)
{
    static const char bytes[] = "\\\"{}[],:0e.-u\x80\xc3\xa9\xed\xa0\x01 tn";
    struct answers an;
    unsigned seed = 12345, fast = 0, runs = 0;

    (void)state;
    load(&an);
    for (unsigned round = 0; round < 40; round++) {
        for (size_t r = 0; r < an.nrec; r++) {
            /* one chunk of the recording changed at one place: replaced, inserted or cut */
            size_t c = an.first[r] + (seed = seed * 1103515245u + 12345u) % an.count[r];
            char *orig = an.text[c];
            size_t olen = an.len[c], at = (seed = seed * 1103515245u + 12345u) % olen;
            char *m = malloc(olen + 2);
            char b = bytes[(seed = seed * 1103515245u + 12345u) % (sizeof(bytes) - 1)];
            unsigned how = (seed >> 16) % 3;
            assert_non_null(m);
            memcpy(m, orig, at);
            size_t mlen = at;
            if (how < 2)
                m[mlen++] = b;
            memcpy(m + mlen, orig + at + (how != 1), olen - at - (how != 1));
            mlen += olen - at - (how != 1);
            an.text[c] = m;
            an.len[c] = mlen;
            fast += (unsigned)run(&an, r);
            runs++;
            an.text[c] = orig;
            an.len[c] = olen;
            free(m);
        }
    }
    assert_true(runs >= 500);
    assert_true(fast > 0);
    unload(&an);
}

/* Answers the recordings lack, on both paths: thoughts, several candidates, empty text, escapes
 * of every kind, a finish other than STOP; whole and as the chunks of one stream. */
static void test_synthetic(void **state)
{
    static const char *const answers[] = {
        "{\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"think \\/ \\u00e9\", "
        "\"thought\": true}, {\"text\": \"say \\\"hi\\\"\\n\\ud83d\\ude00\", \"thought\": "
        "false, \"thoughtSignature\": \"c2ln\"}]}, \"index\": 0}], \"modelVersion\": \"v\", "
        "\"responseId\": \"abc\"}",
        "{\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"one\"}]}, \"index\": 1}, "
        "{\"content\": {\"parts\": [{\"text\": \"\"}]}, \"index\": 0, \"finishReason\": "
        "\"MAX_TOKENS\"}], \"usageMetadata\": {\"promptTokenCount\": 3, "
        "\"candidatesTokenCount\": 2, \"thoughtsTokenCount\": 5, \"totalTokenCount\": 10}}",
        "{\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"only a thought\", "
        "\"thought\": true}], \"role\": \"model\"}, \"finishReason\": \"STOP\"}]}",
        "{\"candidates\": [{\"content\": {\"parts\": []}, \"finishReason\": \"STOP\"}], "
        "\"usageMetadata\": {\"promptTokenCount\": 4, \"promptTokensDetails\": "
        "[{\"modality\": \"AUDIO\", \"tokenCount\": 4}]}}",
        "{\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"a\"}, {\"text\": \"b\", "
        "\"thought\": true}, {\"text\": \"c\"}]}, \"finishReason\": \"SAFETY\"}], "
        "\"modelVersion\": \"\"}",
    };
    const size_t n = sizeof(answers) / sizeof(answers[0]);
    char *chunks[8];
    size_t lens[8];

    (void)state;
    for (size_t i = 0; i < n; i++) {
        struct oai_call a, b;
        call_init(&a, false);
        call_init(&b, false);
        assert_true(same(&a, &b, answers[i], strlen(answers[i]), false));
        oai_call_done(&a);
        oai_call_done(&b);
        chunks[i] = strdup(answers[i]);
        assert_non_null(chunks[i]);
        lens[i] = strlen(answers[i]);
    }
    assert_int_equal(same_stream(chunks, lens, n), n);
    for (size_t i = 0; i < n; i++)
        free(chunks[i]);
}

static bool scans(const char *json)
{
    struct gscan g;

    return gscan_answer(json, strlen(json), &g);
}

/* What the scan takes, and what it leaves to the parser. */
static void test_scan_cases(void **state)
{
    struct gscan g;
    const char *ok = "{\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"a\\n\\u00e9\\ud83d"
                     "\\ude00 \\\"q\\\"\"}, {\"text\": \"why\", \"thought\": true}], \"role\": "
                     "\"model\"}, \"finishReason\": \"STOP\", \"index\": 0, \"avgLogprobs\": "
                     "-0.25}], \"usageMetadata\": {\"promptTokenCount\": 7, "
                     "\"promptTokensDetails\": [{\"modality\": \"AUDIO\", \"tokenCount\": 3}, "
                     "{\"modality\": \"TEXT\", \"tokenCount\": 4}]}, \"modelVersion\": \"m-1\", "
                     "\"responseId\": \"r1\", \"x\": [null, false, {\"y\": [1.5]}]}";

    (void)state;
    assert_true(gscan_answer(ok, strlen(ok), &g));
    assert_int_equal(g.ncand, 1);
    assert_int_equal(g.cand[0].nparts, 2);
    assert_true(g.cand[0].thought[1] && !g.cand[0].thought[0]);
    assert_int_equal(strncmp(g.cand[0].text[0].p, "a\\n\\u00e9", 9), 0); /* as it came */
    assert_string_equal(g.cand[0].finish, "STOP");
    assert_int_equal(g.usage.prompt, 7);
    assert_int_equal(g.usage.audio, 3);
    assert_int_equal(g.model_version.n, 3);
    assert_true(scans("{}"));
    assert_true(scans(" {\"candidates\": []} \n"));
    /* left to the parser */
    const char *no[] = {
        "",
        "[]",
        "{\"candidates\": [{\"content\": {\"parts\": [{\"functionCall\": {\"name\": \"f\"}}]}}]}",
        "{\"candidates\": [{\"content\": {\"parts\": [{\"inlineData\": {\"data\": \"AA==\"}}]}}]}",
        "{\"candidates\": [], \"promptFeedback\": {\"blockReason\": \"SAFETY\"}}",
        "{\"error\": {\"code\": 429}}",
        "{\"candidates\": [], \"candidates\": []}",
        "{\"candidates\": []} x",
        "{\"candidates\": [],}",
        "{\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"\\u0000\"}]}}]}",
        "{\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"\\ud83d\"}]}}]}",
        "{\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"\\x\"}]}}]}",
        "{\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"\xc3\"}]}}]}",
        "{\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"\xed\xa0\x80\"}]}}]}",
        "{\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"\x01\"}]}}]}",
        "{\"candidates\": [{\"index\": 1e0}]}",
        "{\"candidates\": [{\"index\": -1}]}",
        "{\"usageMetadata\": {\"totalTokenCount\": 12345678901234567890}}",
        "{\"candidates\": [{\"finishReason\": \"ST\\u004fP\"}]}",
        "{\"modelVersion\": null}",
        "{\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"a\", \"thought\": null}]}}]}",
        "{\"t\\u0065xt\": 1}",
        "{\"x\": 01}",
    };
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        if (scans(no[i])) {
            (void)fprintf(stderr, "scanned: %s\n", no[i]);
            fail();
        }
    /* nesting beyond the scan's depth, and more candidates than it holds */
    char deep[512], many[1024];
    size_t n = 0;
    n += (size_t)snprintf(deep + n, sizeof(deep) - n, "{\"x\": ");
    for (int i = 0; i < 70; i++)
        deep[n++] = '[';
    for (int i = 0; i < 70; i++)
        deep[n++] = ']';
    (void)snprintf(deep + n, sizeof(deep) - n, "}");
    assert_false(scans(deep));
    n = (size_t)snprintf(many, sizeof(many), "{\"candidates\": [");
    for (int i = 0; i < GSCAN_CANDS + 1; i++)
        n += (size_t)snprintf(many + n, sizeof(many) - n, "%s{\"index\": %d}", i ? ", " : "", i);
    (void)snprintf(many + n, sizeof(many) - n, "]}");
    assert_false(scans(many));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recordings),
        cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_synthetic),
        cmocka_unit_test(test_scan_cases),
    };
    return cmocka_run_group_tests_name("oai_fast", tests, NULL, NULL);
}
