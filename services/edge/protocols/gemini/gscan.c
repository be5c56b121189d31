/* A GenerateContentResponse of text parts read in place (see gscan.h). */
#include "gscan.h"

#include <string.h>

#include "lib/jscan.h"

/* A string without escapes (names, ids and reasons are compared or copied as they are). */
static bool plain_string(struct jscan *s, struct gscan_span *ret)
{
    return jscan_string(s, &ret->p, &ret->n) && !memchr(ret->p, '\\', ret->n);
}

/* A count as jansson's json_integer_value() then "> 0" would read it; false: not a plain one. */
static bool count(struct jscan *s, uint64_t *ret)
{
    bool is_uint;

    return jscan_number(s, ret, &is_uint) && is_uint;
}

/* One part: {"text": "...", "thought": true|false, "thoughtSignature": "..."} and nothing else. */
static bool part(struct jscan *s, struct gscan_cand *c)
{
    const char *k;
    size_t kl;
    bool first = true, text = false, thought = false;
    struct gscan_span t = {NULL, 0};
    char lit;

    if (!jscan_enter(s, '{'))
        return false;
    while (jscan_next(s, '}', &first, &k, &kl)) {
        if (jscan_is(k, kl, "text")) {
            if (!jscan_string(s, &t.p, &t.n))
                return false;
            text = true;
        } else if (jscan_is(k, kl, "thought")) {
            if (!jscan_literal(s, &lit) || lit == 'n')
                return false;
            thought = lit == 't';
        } else if (!jscan_is(k, kl, "thoughtSignature") || jscan_peek(s) != '"' || !jscan_skip(s)) {
            return false; /* a call, inline data, code, ...: the parser's */
        }
    }
    if (s->bad)
        return false;
    if (text) {
        if (c->nparts == GSCAN_PARTS)
            return false;
        c->thought[c->nparts] = thought;
        c->text[c->nparts++] = t;
    }
    return true;
}

/* content: {"parts": [...], "role": "..."} */
static bool content(struct jscan *s, struct gscan_cand *c)
{
    const char *k;
    size_t kl;
    bool first = true, pfirst, seen = false;

    if (!jscan_enter(s, '{'))
        return false;
    while (jscan_next(s, '}', &first, &k, &kl)) {
        if (jscan_is(k, kl, "parts")) {
            if (seen || !jscan_enter(s, '['))
                return false;
            seen = pfirst = true;
            while (jscan_next(s, ']', &pfirst, NULL, NULL))
                if (!part(s, c))
                    return false;
        } else if (!jscan_skip_member(s, k, kl)) {
            return false;
        }
    }
    return !s->bad;
}

static bool candidate(struct jscan *s, struct gscan_cand *c)
{
    const char *k;
    size_t kl;
    bool first = true, seen = false;
    struct gscan_span f;

    memset(c, 0, sizeof(*c));
    if (!jscan_enter(s, '{'))
        return false;
    while (jscan_next(s, '}', &first, &k, &kl)) {
        bool ok;
        if (jscan_is(k, kl, "content")) {
            ok = !seen && content(s, c);
            seen = true;
        } else if (jscan_is(k, kl, "finishReason")) {
            ok = plain_string(s, &f) && f.n < sizeof(c->finish);
            if (ok) {
                memcpy(c->finish, f.p, f.n);
                c->finish[f.n] = '\0';
                c->has_finish = true;
            }
        } else if (jscan_is(k, kl, "index")) {
            ok = count(s, &c->index);
        } else {
            ok = jscan_skip_member(s, k, kl);
        }
        if (!ok)
            return false;
    }
    return !s->bad;
}

/* promptTokensDetails: [{"modality": "AUDIO", "tokenCount": n}, ...] -> the audio tokens. */
static bool details(struct jscan *s, uint64_t *audio)
{
    const char *k;
    size_t kl;
    bool first = true;

    *audio = 0;
    if (!jscan_enter(s, '['))
        return false;
    while (jscan_next(s, ']', &first, NULL, NULL)) {
        bool dfirst = true, is_audio = false;
        uint64_t n = 0;
        struct gscan_span m;
        if (!jscan_enter(s, '{'))
            return false;
        while (jscan_next(s, '}', &dfirst, &k, &kl)) {
            bool ok;
            if (jscan_is(k, kl, "modality")) {
                ok = plain_string(s, &m);
                is_audio = ok && jscan_is(m.p, m.n, "AUDIO");
            } else if (jscan_is(k, kl, "tokenCount")) {
                ok = count(s, &n);
            } else {
                ok = jscan_skip_member(s, k, kl);
            }
            if (!ok)
                return false;
        }
        if (s->bad)
            return false;
        if (is_audio)
            *audio += n;
    }
    return !s->bad;
}

static bool usage(struct jscan *s, struct gtrans_usage *u)
{
    static const char *const names[] = {"promptTokenCount",        "candidatesTokenCount",
                                        "thoughtsTokenCount",      "cachedContentTokenCount",
                                        "toolUsePromptTokenCount", "totalTokenCount"};
    uint64_t *fields[] = {&u->prompt, &u->candidates, &u->thoughts,
                          &u->cached, &u->tool_use,   &u->total};
    const char *k;
    size_t kl;
    bool first = true, seen = false;

    memset(u, 0, sizeof(*u));
    if (!jscan_enter(s, '{'))
        return false;
    while (jscan_next(s, '}', &first, &k, &kl)) {
        size_t i = 0;
        while (i < 6 && !jscan_is(k, kl, names[i]))
            i++;
        if (i < 6 && !count(s, fields[i]))
            return false;
        if (i == 6 && jscan_is(k, kl, "promptTokensDetails")) {
            if (seen || !details(s, &u->audio))
                return false;
            seen = true;
        } else if (i == 6 && !jscan_skip_member(s, k, kl)) {
            return false;
        }
    }
    return !s->bad;
}

bool gscan_answer(const char *json, size_t len, struct gscan *ret)
{
    struct jscan s;
    const char *k;
    size_t kl;
    bool first = true, cands = false;

    ret->ncand = 0;
    ret->has_model_version = ret->has_response_id = ret->has_usage = false;
    jscan_init(&s, json, len);
    if (!jscan_enter(&s, '{'))
        return false;
    while (jscan_next(&s, '}', &first, &k, &kl)) {
        bool ok;
        if (jscan_is(k, kl, "candidates")) {
            bool cfirst = true;
            ok = !cands && jscan_enter(&s, '[');
            cands = true;
            while (ok && jscan_next(&s, ']', &cfirst, NULL, NULL))
                ok = ret->ncand < GSCAN_CANDS && candidate(&s, &ret->cand[ret->ncand++]);
        } else if (jscan_is(k, kl, "usageMetadata")) {
            ok = !ret->has_usage && usage(&s, &ret->usage);
            ret->has_usage = true;
        } else if (jscan_is(k, kl, "modelVersion")) {
            ok = plain_string(&s, &ret->model_version);
            ret->has_model_version = true;
        } else if (jscan_is(k, kl, "responseId")) {
            ok = plain_string(&s, &ret->response_id);
            ret->has_response_id = true;
        } else {
            /* an error or a blocked prompt, and anything whose name has escapes: the parser's */
            ok = !jscan_is(k, kl, "error") && !jscan_is(k, kl, "promptFeedback") &&
                 jscan_skip_member(&s, k, kl);
        }
        if (!ok || s.bad)
            return false;
    }
    return jscan_done(&s);
}
