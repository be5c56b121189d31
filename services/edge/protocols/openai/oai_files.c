/*
 * OpenAI POST /v1/files (purpose user_data) as an upload to Gemini's Files API: the
 * multipart/form-data body becomes one multipart/related upload (X-Goog-Upload-Protocol:
 * multipart), and Gemini's File comes back as an OpenAI file object whose id is the Gemini name
 * ("files/abc"), which the chat routes take as file_id.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "lib/gjson.h"
#include "lib/parse.h"

#include "oai.h"
#include "oai_int.h"

#define FILE_TTL_S (48 * 3600) /* Gemini keeps a file 48 hours */

/* A form part: its field name, file name and type (not terminated), and its bytes. */
struct part {
    const char *name, *filename, *ctype, *data;
    size_t name_len, filename_len, ctype_len, len;
};

/* The boundary of a multipart/form-data Content-Type into out[n]. */
static bool boundary_of(const char *ctype, char *out, size_t n)
{
    const char *b = ctype ? strcasestr(ctype, "boundary=") : NULL;
    size_t len;

    if (!ctype || strncasecmp(ctype, "multipart/form-data", 19) != 0 || !b)
        return false;
    b += 9;
    if (*b == '"') {
        b++;
        len = strcspn(b, "\"");
    } else {
        len = strcspn(b, "; \t");
    }
    if (len == 0 || len > 70 || len + 1 > n)
        return false;
    memcpy(out, b, len);
    out[len] = '\0';
    return true;
}

/* A parameter (name="x") of a Content-Disposition line [p, end) into *val, *vlen. */
static void disposition_param(const char *p, const char *end, const char *key, const char **val,
                              size_t *vlen)
{
    size_t kl = strlen(key);

    for (; p + kl + 2 < end; p++)
        if ((p[-1] == ' ' || p[-1] == ';') && strncasecmp(p, key, kl) == 0 && p[kl] == '=' &&
            p[kl + 1] == '"') {
            const char *v = p + kl + 2, *q = memchr(v, '"', (size_t)(end - v));
            if (q) {
                *val = v;
                *vlen = (size_t)(q - v);
            }
            return;
        }
}

/* One part's headers [p, end) into pt. */
static void part_headers(const char *p, const char *end, struct part *pt)
{
    while (p < end) {
        const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
        const char *le = eol ? eol : end;
        if ((size_t)(le - p) > 20 && strncasecmp(p, "Content-Disposition:", 20) == 0) {
            disposition_param(p + 20, le, "name", &pt->name, &pt->name_len);
            disposition_param(p + 20, le, "filename", &pt->filename, &pt->filename_len);
        } else if ((size_t)(le - p) > 13 && strncasecmp(p, "Content-Type:", 13) == 0) {
            pt->ctype = p + 13 + strspn(p + 13, " \t");
            pt->ctype_len = (size_t)(le - pt->ctype);
        }
        p = le + 2;
    }
}

/* The parts of a form body delimited by boundary b; false when it is not well formed. */
static bool form_parts(const char *body, size_t len, const char *b, struct part *out, size_t max,
                       size_t *ret_n)
{
    char delim[80];
    size_t dl = (size_t)snprintf(delim, sizeof(delim), "--%s", b), n = 0;
    const char *end = body + len, *p = memmem(body, len, delim, dl);

    while (p && p + dl + 2 <= end) {
        const char *h = p + dl, *hend, *next;
        if (strncmp(h, "--", 2) == 0) {
            *ret_n = n;
            return true;
        }
        if (strncmp(h, "\r\n", 2) != 0 || n == max)
            return false;
        h += 2;
        hend = memmem(h, (size_t)(end - h), "\r\n\r\n", 4);
        if (!hend)
            return false;
        memset(&out[n], 0, sizeof(out[n]));
        part_headers(h, hend, &out[n]);
        out[n].data = hend + 4;
        next = memmem(out[n].data, (size_t)(end - out[n].data), delim, dl);
        if (!next || next < out[n].data + 2 || next[-2] != '\r' || next[-1] != '\n')
            return false;
        out[n].len = (size_t)(next - 2 - out[n].data);
        n++;
        p = next;
    }
    return false;
}

static const struct part *field(const struct part *parts, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (parts[i].name_len == strlen(name) &&
            strncmp(parts[i].name, name, parts[i].name_len) == 0)
            return &parts[i];
    return NULL;
}

enum status oai_files_request(struct oai_call *oc, const char *ctype, const char *body, size_t len,
                              struct buf *out, char **headers, struct oai_err *err)
{
    struct part parts[8];
    const struct part *file, *purpose;
    char b[80], nb[64];
    unsigned char rnd[12];
    size_t n = 0;
    json_t *meta;
    char *mj;

    if (!boundary_of(ctype, b, sizeof(b)) || !form_parts(body, len, b, parts, 8, &n))
        return oai_bad(err, NULL,
                       "Send the file as multipart/form-data with fields file and purpose.");
    file = field(parts, n, "file");
    purpose = field(parts, n, "purpose");
    if (!file || !file->filename)
        return oai_bad(err, "file", "A file field with a filename is required.");
    if (!purpose || purpose->len != 9 || strncmp(purpose->data, "user_data", 9) != 0)
        return oai_bad(err, "purpose",
                       "Only purpose user_data maps to Gemini's Files API (a file to use in "
                       "prompts).");
    (void)snprintf(oc->model, sizeof(oc->model), "%.*s",
                   (int)(file->filename_len < 127 ? file->filename_len : 127), file->filename);
    /* a boundary the file's bytes do not hold */
    do {
        if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
            return oai_bad(err, NULL, "The gateway could not prepare the upload.");
        (void)snprintf(nb, sizeof(nb), "sb-%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x",
                       rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7], rnd[8],
                       rnd[9], rnd[10], rnd[11]);
    } while (memmem(file->data, file->len, nb, strlen(nb)));
    meta = json_pack("{s:{s:s}}", "file", "displayName", oc->model);
    mj = json_dumps(meta, JSON_COMPACT);
    json_decref(meta);
    if (!mj ||
        buf_printf(out,
                   "--%s\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n%s\r\n"
                   "--%s\r\nContent-Type: %.*s\r\n\r\n",
                   nb, mj, nb, (int)(file->ctype ? file->ctype_len : 24),
                   file->ctype ? file->ctype : "application/octet-stream") != ST_OK ||
        buf_append(out, file->data, file->len) != ST_OK ||
        buf_printf(out, "\r\n--%s--\r\n", nb) != ST_OK) {
        free(mj);
        return oai_bad(err, "file", "The file is too large.");
    }
    free(mj);
    {
        struct buf h;
        buf_init(&h, 256);
        (void)buf_printf(&h,
                         "X-Goog-Upload-Protocol: multipart\r\n"
                         "Content-Type: multipart/related; boundary=%s\r\n",
                         nb);
        *headers = buf_take(&h, NULL);
    }
    return ST_OK;
}

enum status oai_files_response(const struct oai_call *oc, const char *body, size_t len,
                               struct buf *out)
{
    json_t *doc = json_loadb(body, len, 0, NULL), *f = json_object_get(doc, "file"), *r;
    const char *name = json_string_value(json_object_get(f, "name"));
    uint64_t size = 0;
    json_int_t now = (json_int_t)time(NULL);
    enum status st;

    if (!name) {
        json_decref(doc);
        return ST_PROTO;
    }
    (void)parse_u64(json_string_value(json_object_get(f, "sizeBytes")), 0, UINT64_MAX, &size);
    r = json_pack("{s:s,s:s,s:I,s:I,s:I,s:s,s:s,s:s}", "id", name, "object", "file", "bytes",
                  (json_int_t)size, "created_at", now, "expires_at", now + FILE_TTL_S, "filename",
                  oc->model, "purpose", "user_data", "status", "processed");
    st = gjson_dump(r, false, out);
    json_decref(r);
    json_decref(doc);
    return st == ST_OK ? ST_OK : ST_PROTO;
}
