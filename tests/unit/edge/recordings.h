/*
 * The real Gemini traffic in tests/fixtures/gemini-recordings, for the translation tests: each
 * recording's generate request (model, stream or not, declared functions) and the upstream
 * answer (one body, or the stream's chunks); golden-file comparison of their translations.
 * Test code only (static functions).
 */
#ifndef SB_TEST_RECORDINGS_H
#define SB_TEST_RECORDINGS_H

#include <dirent.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

#define RECORDINGS  SB_FIXTURES "/gemini-recordings"
#define REC_MAX_FNS 16

struct rec {
    json_t *root;
    json_t *segs; /* the answer: one body, or the stream's chunks */
    bool stream;
    char model[128];
    char *fns[REC_MAX_FNS]; /* functions the request declared (strdup'ed) */
    size_t nfn;
};

static inline void rec_close(struct rec *r)
{
    for (size_t i = 0; i < r->nfn; i++)
        free(r->fns[i]);
    json_decref(r->root);
    memset(r, 0, sizeof(*r));
}

/* Open a recording; false when it holds no generate answer (countTokens, no body). */
static inline bool rec_open(const char *file, struct rec *r)
{
    char path[1024];
    json_t *it, *req, *t, *d;
    const char *url, *m, *colon;
    size_t i, j;

    memset(r, 0, sizeof(*r));
    (void)snprintf(path, sizeof(path), "%s/%s", RECORDINGS, file);
    r->root = json_load_file(path, 0, NULL);
    if (!r->root)
        return false;
    it = json_array_get(json_object_get(r->root, "interactions"), 0);
    url = json_string_value(json_object_get(json_object_get(it, "request"), "url"));
    r->segs = json_object_get(json_object_get(it, "response"), "bodySegments");
    if (!url || !strstr(url, "enerateContent") || json_array_size(r->segs) == 0) {
        rec_close(r);
        return false;
    }
    r->stream = strstr(url, "streamGenerateContent") != NULL;
    m = strstr(url, "models/") + 7;
    colon = strchr(m, ':');
    (void)snprintf(r->model, sizeof(r->model), "%.*s", (int)(colon - m), m);
    req = json_array_get(json_object_get(json_object_get(it, "request"), "bodySegments"), 0);
    json_array_foreach(json_object_get(req, "tools"), i, t)
    {
        json_array_foreach(json_object_get(t, "functionDeclarations"), j, d)
        {
            if (r->nfn < REC_MAX_FNS)
                r->fns[r->nfn++] = strdup(json_string_value(json_object_get(d, "name")));
        }
    }
    return true;
}

static inline int rec_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The recordings' file names, sorted; NULL-terminated (free with rec_names_free). */
static inline char **rec_names(void)
{
    DIR *dir = opendir(RECORDINGS);
    struct dirent *de;
    char **v = calloc(256, sizeof(char *));
    size_t n = 0;

    while (dir && (de = readdir(dir)) != NULL && n < 255)
        if (strstr(de->d_name, ".json"))
            v[n++] = strdup(de->d_name);
    if (dir)
        closedir(dir);
    qsort(v, n, sizeof(char *), rec_cmp);
    return v;
}

static inline void rec_names_free(char **v)
{
    for (size_t i = 0; v[i]; i++)
        free(v[i]);
    free(v);
}

/* A translation of one recording into a client's format (NULL: no generate answer in it). */
typedef json_t *(*rec_translate_fn)(const char *file, bool *empty);

/* The translation of the first recording whose name starts with `prefix`. */
static inline json_t *rec_find(const char *prefix, rec_translate_fn translate, bool *empty)
{
    char **names = rec_names();
    json_t *r = NULL;

    for (size_t i = 0; names[i] && !r; i++)
        if (strncmp(names[i], prefix, strlen(prefix)) == 0)
            r = translate(names[i], empty);
    rec_names_free(names);
    return r;
}

/*
 * Translate every recording and compare with expected/<name> (SB_WRITE_EXPECTED=1 rewrites
 * them, for review); `each` (may be NULL) checks a translation on its own. Returns how many
 * recordings were translated, or fails the test with the first difference.
 */
static inline unsigned rec_golden(const char *expected, rec_translate_fn translate,
                                  void (*each)(const char *file, const json_t *got))
{
    char **names = rec_names();
    unsigned done = 0;
    bool write = getenv("SB_WRITE_EXPECTED") != NULL, empty;

    for (size_t i = 0; names[i]; i++) {
        char path[1024];
        json_t *got = translate(names[i], &empty), *want;
        if (!got)
            continue; /* countTokens, or a recording without a body */
        if (each)
            each(names[i], got);
        (void)snprintf(path, sizeof(path), "%s/%s", expected, names[i]);
        if (write) {
            assert_int_equal(json_dump_file(got, path, JSON_INDENT(1)), 0);
        } else {
            want = json_load_file(path, 0, NULL);
            if (!json_equal(got, want)) {
                char *g = json_dumps(got, JSON_INDENT(1));
                fail_msg("%s differs from %s:\n%s", names[i], path, g);
            }
            json_decref(want);
        }
        json_decref(got);
        done++;
    }
    rec_names_free(names);
    return done;
}

#endif
