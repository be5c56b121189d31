/*
 * Admin identity: users in Postgres with yescrypt password hashes (libxcrypt's crypt_r, the
 * Debian default for /etc/shadow: memory-hard, salted, and already on every Debian system),
 * opaque session tokens in Redis (only their SHA-256 is stored, with a TTL, so every edge
 * replica sees every session), and login attempts counted per user and per client address
 * in Redis before any password is checked, so guessing is rate-limited across replicas.
 */
#include <crypt.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/db.h"
#include "lib/keyid.h"
#include "lib/kv.h"
#include "lib/log.h"
#include "lib/parse.h"
#include "lib/xalloc.h"

#include "admin.h"
#include "admin_int.h"
#include "edge.h"

#define PW_MIN   12
#define PW_MAX   256
#define USER_MAX 64

/* ARGV: user key, address key, window s. Counts an attempt on both; returns both counts and
 * their remaining ms. */
static const char LUA_ATTEMPT[] = "local u = redis.call('INCR', ARGV[1])\n"
                                  "if u == 1 then redis.call('EXPIRE', ARGV[1], ARGV[3]) end\n"
                                  "local a = redis.call('INCR', ARGV[2])\n"
                                  "if a == 1 then redis.call('EXPIRE', ARGV[2], ARGV[3]) end\n"
                                  "return {u, a, redis.call('PTTL', ARGV[1]), "
                                  "redis.call('PTTL', ARGV[2])}\n";

/* ARGV: prefix, user, digest to keep. Revokes the user's other sessions. */
static const char LUA_REVOKE[] =
    "local set = ARGV[1] .. 'usess:' .. ARGV[2]\n"
    "local n = 0\n"
    "for _, d in ipairs(redis.call('SMEMBERS', set)) do\n"
    "  if d ~= ARGV[3] then redis.call('DEL', ARGV[1] .. 'sess:' .. d); "
    "redis.call('SREM', set, d); n = n + 1 end\n"
    "end\n"
    "return n\n";

static int lua_attempt = -1, lua_revoke = -1;

static enum status hash_password(const char *pw, char *out, size_t n)
{
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];
    struct crypt_data *cd = xcalloc(1, sizeof(*cd));
    const char *h;
    enum status st = ST_IO;

    if (crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof(salt)) == NULL)
        goto out;
    h = crypt_r(pw, salt, cd);
    if (!h || h[0] == '*' || strlen(h) >= n)
        goto out;
    (void)snprintf(out, n, "%s", h);
    st = ST_OK;
out:
    free(cd);
    return st;
}

/* Constant work whether or not the user exists: an unknown user is checked against a dummy. */
static char dummy_hash[256]; /* a real hash of a random password, made at start */

static bool verify_password(const char *pw, const char *hash)
{
    struct crypt_data *cd = xcalloc(1, sizeof(*cd));
    const char *h = crypt_r(pw, hash ? hash : dummy_hash, cd);
    bool ok = hash && h && h[0] != '*' && keyid_equal(h, hash);

    free(cd);
    return ok;
}

static enum status write_secret_file(const char *path, const char *secret)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    size_t len = strlen(secret);
    enum status st = ST_OK;

    if (fd < 0)
        return ST_IO;
    if (fchmod(fd, 0600) != 0 || write(fd, secret, len) != (ssize_t)len || write(fd, "\n", 1) != 1)
        st = ST_IO;
    if (close(fd) != 0)
        st = ST_IO;
    return st;
}

enum status auth_seed(struct admin *a)
{
    struct db_res *r = NULL;
    char gen[64], hash[256], tmp[4200];
    const char *pw = a->cfg->admin_password;
    const char *p[2];
    enum status st;
    bool generated = false;

    lua_attempt = kv_script_add(a->kv, LUA_ATTEMPT);
    lua_revoke = kv_script_add(a->kv, LUA_REVOKE);
    if (keyid_random("", 18, gen, sizeof(gen)) != ST_OK ||
        hash_password(gen, dummy_hash, sizeof(dummy_hash)) != ST_OK)
        return ST_IO;
    st = db_exec(a->db, "SELECT count(*) FROM edge_users", 0, NULL, &r);
    if (st != ST_OK)
        return st;
    if (strcmp(db_res_get(r, 0, 0), "0") != 0) {
        db_res_free(r);
        return ST_OK;
    }
    db_res_free(r);
    if (!pw[0]) {
        if (keyid_random("", 18, gen, sizeof(gen)) != ST_OK)
            return ST_IO;
        pw = gen;
        generated = true;
    }
    if (hash_password(pw, hash, sizeof(hash)) != ST_OK)
        return ST_IO;
    /* a generated password is on disk before the account exists: a folder that cannot be
     * written must not leave an admin nobody knows the password of */
    (void)snprintf(tmp, sizeof(tmp), "%s.%d.tmp", a->cfg->admin_password_file, (int)getpid());
    if (generated && write_secret_file(tmp, pw) != ST_OK) {
        LOG_ERROR("admin.password_file_failed",
                  "file=%s msg=\"cannot write the first admin's password: make the folder "
                  "writable or set SB_ADMIN_PASSWORD\" action=no_admin_created",
                  a->cfg->admin_password_file);
        (void)unlink(tmp);
        return ST_IO;
    }
    p[0] = a->cfg->admin_user;
    p[1] = hash;
    st = db_exec(a->db,
                 "INSERT INTO edge_users (username, pw_hash) VALUES ($1, $2) "
                 "ON CONFLICT (username) DO NOTHING RETURNING username",
                 2, p, &r);
    if (st == ST_OK && db_res_rows(r) == 1 && generated &&
        rename(tmp, a->cfg->admin_password_file) != 0) {
        LOG_ERROR("admin.password_file_failed", "file=%s tmp=%s action=read_the_tmp_file",
                  a->cfg->admin_password_file, tmp);
    } else if (st == ST_OK && db_res_rows(r) == 1) {
        LOG_INFO("admin.created", "user=%s password_from=%s%s", a->cfg->admin_user,
                 generated ? "file:" : "SB_ADMIN_PASSWORD",
                 generated ? a->cfg->admin_password_file : "");
    } else if (generated) {
        (void)unlink(tmp); /* another replica created the admin first: its file stands */
    }
    db_res_free(r);
    return st;
}

bool auth_session(struct admin_ctx *x)
{
    const char *tok = x->job->bearer[0] ? x->job->bearer : x->job->cookie;
    char digest[65], key[160];
    struct kv_strs out;

    if (!tok[0] || strncmp(tok, "sbs_", 4) != 0 || strlen(tok) > 128)
        return false;
    keyid_sha256_hex(tok, strlen(tok), digest, sizeof(digest));
    (void)snprintf(key, sizeof(key), "%ssess:%s", x->a->prefix, digest);
    const char *argv[] = {"GET", key};
    if (kv_command(x->a->kv, 2, argv, &out) != ST_OK || out.n != 1 || !out.items[0][0] ||
        strlen(out.items[0]) >= sizeof(x->user))
        return false;
    memcpy(x->user, out.items[0], strlen(out.items[0]) + 1); /* length checked above */
    memcpy(x->session, digest, sizeof(x->session));
    return true;
}

static const char *str_field(const struct admin_ctx *x, const char *name, size_t max)
{
    json_t *v = x->in ? json_object_get(x->in, name) : NULL;
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;

    return s && strlen(s) <= max ? s : NULL;
}

/* Redis keys counting sign-in attempts of `user` (hashed) and of the client's address. */
static void attempt_keys(const struct admin_ctx *x, const char *user, char ukey[128],
                         char akey[128])
{
    char uh[65];

    keyid_sha256_hex(user, strlen(user), uh, sizeof(uh));
    (void)snprintf(ukey, 128, "%slogin:u:%.16s", x->a->prefix, uh);
    (void)snprintf(akey, 128, "%slogin:a:%s", x->a->prefix, x->job->addr);
}

/* Count one attempt for user and address; false (answered 429) when over the limit. */
static bool attempt_allowed(struct admin_ctx *x, const char *user)
{
    const struct edge_config *cfg = x->a->cfg;
    char ukey[128], akey[128], win[16];
    struct kv_strs out;
    uint64_t u = 0, ad = 0, pu = 0, pa = 0;

    attempt_keys(x, user, ukey, akey);
    (void)snprintf(win, sizeof(win), "%u", cfg->login_window_s);
    const char *argv[] = {ukey, akey, win};
    if (kv_eval(x->a->kv, lua_attempt, 3, argv, &out) != ST_OK || out.n != 4) {
        admin_error(x, 503, "The session store is unavailable; retry shortly.");
        return false;
    }
    /* PTTL may be negative (no expiry yet): those stay 0 */
    (void)parse_u64(out.items[0], 0, UINT64_MAX, &u);
    (void)parse_u64(out.items[1], 0, UINT64_MAX, &ad);
    (void)parse_u64(out.items[2], 0, UINT64_MAX, &pu);
    (void)parse_u64(out.items[3], 0, UINT64_MAX, &pa);
    if (u > cfg->login_max_failures || ad > (uint64_t)cfg->login_max_failures * 4) {
        uint64_t ms = u > cfg->login_max_failures ? pu : pa;
        (void)snprintf(x->retry_after, sizeof(x->retry_after), "%llu",
                       (unsigned long long)((ms + 999) / 1000));
        LOG_WARN("admin.login_limited", "req=%s client=%s", x->job->req_id, x->job->addr);
        admin_error(x, 429, "Too many sign-in attempts; wait before trying again.");
        return false;
    }
    return true;
}

/* Take this attempt back from the address, and from the user (user_op "DECR") or forget all
 * the user's failures ("DEL"). */
static void attempt_back(struct admin_ctx *x, const char *user, const char *user_op)
{
    char ukey[128], akey[128];
    struct kv_strs out;

    attempt_keys(x, user, ukey, akey);
    const char *u[] = {user_op, ukey};
    const char *a[] = {"DECR", akey};
    (void)kv_command(x->a->kv, 2, u, &out);
    (void)kv_command(x->a->kv, 2, a, &out);
}

/* A successful check forgets the user's failures and takes this attempt back from the
 * address, so only failures count against either. */
static void attempt_forget(struct admin_ctx *x, const char *user)
{
    attempt_back(x, user, "DEL");
}

/*
 * Look the user up and check the password (timing does not tell whether the user exists):
 * ST_OK, ST_DENIED for a wrong user or password, ST_UNAVAILABLE when the user store cannot be
 * read (never a wrong password: it is not counted against anyone).
 */
static enum status check_user(struct admin *a, const char *user, const char *pw)
{
    struct db_res *r = NULL;
    const char *p[1] = {user};
    bool ok;

    if (db_exec(a->db, "SELECT pw_hash FROM edge_users WHERE username = $1", 1, p, &r) != ST_OK) {
        LOG_WARN("admin.user_store_failed", "err=\"%s\"", db_last_error(a->db));
        return ST_UNAVAILABLE;
    }
    ok = verify_password(pw, db_res_rows(r) == 1 ? db_res_get(r, 0, 0) : NULL);
    db_res_free(r);
    return ok ? ST_OK : ST_DENIED;
}

/* The store failed while checking: take the attempt back (it tells nothing about the password)
 * and answer 503. */
static void store_failed(struct admin_ctx *x, const char *user)
{
    attempt_back(x, user, "DECR");
    admin_error(x, 503, "The user store (PostgreSQL) is unavailable; retry shortly.");
}

bool auth_recheck(struct admin_ctx *x)
{
    const char *pw = str_field(x, "current_password", PW_MAX);
    enum status st;

    if (!pw) {
        admin_error(x, 403,
                    "This change needs your password again: add \"current_password\" to the "
                    "body.");
        return false;
    }
    if (!attempt_allowed(x, x->user))
        return false;
    st = check_user(x->a, x->user, pw);
    if (st == ST_UNAVAILABLE) {
        store_failed(x, x->user);
        return false;
    }
    if (st != ST_OK) {
        LOG_WARN("admin.recheck_failed", "req=%s admin=%s client=%s", x->job->req_id, x->user,
                 x->job->addr);
        admin_error(x, 403, "The current password is wrong.");
        return false;
    }
    attempt_forget(x, x->user);
    return true;
}

void auth_login(struct admin_ctx *x)
{
    const char *user = str_field(x, "username", USER_MAX);
    const char *pw = str_field(x, "password", PW_MAX);
    char tok[64], digest[65], key[160], set[160], ttl[16], exp[32];
    struct kv_strs out;
    uint64_t until;
    enum status st;

    if (!user || !pw || !user[0]) {
        admin_error(x, 400, "Send {\"username\": ..., \"password\": ...}.");
        return;
    }
    if (!attempt_allowed(x, user))
        return;
    st = check_user(x->a, user, pw);
    if (st == ST_UNAVAILABLE) {
        store_failed(x, user);
        return;
    }
    if (st != ST_OK) {
        LOG_WARN("admin.login_failed", "req=%s client=%s", x->job->req_id, x->job->addr);
        admin_error(x, 401, "Wrong user name or password.");
        return;
    }
    attempt_forget(x, user);
    if (keyid_random("sbs_", 32, tok, sizeof(tok)) != ST_OK) {
        admin_error(x, 500, "No randomness available for a session.");
        return;
    }
    keyid_sha256_hex(tok, strlen(tok), digest, sizeof(digest));
    (void)snprintf(key, sizeof(key), "%ssess:%s", x->a->prefix, digest);
    (void)snprintf(set, sizeof(set), "%susess:%s", x->a->prefix, user);
    (void)snprintf(ttl, sizeof(ttl), "%u", x->a->cfg->session_ttl_s);
    const char *setv[] = {"SET", key, user, "EX", ttl};
    const char *sadd[] = {"SADD", set, digest};
    const char *expv[] = {"EXPIRE", set, ttl};
    if (kv_command(x->a->kv, 5, setv, &out) != ST_OK ||
        kv_command(x->a->kv, 3, sadd, &out) != ST_OK ||
        kv_command(x->a->kv, 3, expv, &out) != ST_OK) {
        admin_error(x, 503, "The session store is unavailable; retry shortly.");
        return;
    }
    until = clock_now_ms() + (uint64_t)x->a->cfg->session_ttl_s * 1000;
    clock_iso8601(until, exp, sizeof(exp));
    (void)snprintf(x->set_cookie, sizeof(x->set_cookie),
                   "sb_session=%s; Path=/api; Max-Age=%u; HttpOnly; SameSite=Strict%s", tok,
                   x->a->cfg->session_ttl_s, x->a->cfg->cookie_secure ? "; Secure" : "");
    (void)snprintf(x->user, sizeof(x->user), "%s", user);
    LOG_INFO("admin.login", "req=%s admin=%s client=%s", x->job->req_id, user, x->job->addr);
    admin_reply(x, 200, json_pack("{s:s,s:s,s:s}", "token", tok, "expires_at", exp, "user", user));
}

static void drop_session(struct admin_ctx *x)
{
    char key[160], set[160];
    struct kv_strs out;

    (void)snprintf(key, sizeof(key), "%ssess:%s", x->a->prefix, x->session);
    (void)snprintf(set, sizeof(set), "%susess:%s", x->a->prefix, x->user);
    const char *del[] = {"DEL", key};
    const char *srem[] = {"SREM", set, x->session};
    (void)kv_command(x->a->kv, 2, del, &out);
    (void)kv_command(x->a->kv, 3, srem, &out);
}

void auth_logout(struct admin_ctx *x)
{
    drop_session(x);
    admin_sessions_ended(x->a, x->user, x->session, NULL);
    (void)snprintf(x->set_cookie, sizeof(x->set_cookie),
                   "sb_session=; Path=/api; Max-Age=0; HttpOnly; SameSite=Strict");
    LOG_INFO("admin.logout", "req=%s admin=%s", x->job->req_id, x->user);
    admin_reply(x, 200, json_pack("{s:b}", "ok", 1));
}

void auth_me(struct admin_ctx *x)
{
    admin_reply(x, 200, json_pack("{s:s}", "user", x->user));
}

/* Public: whether the caller holds a session, always 200 (the console asks at start; a 401
 * there would be an error in every browser's console). */
void auth_state(struct admin_ctx *x)
{
    if (auth_session(x))
        admin_reply(x, 200, json_pack("{s:b,s:s}", "signed_in", 1, "user", x->user));
    else
        admin_reply(x, 200, json_pack("{s:b}", "signed_in", 0));
}

void auth_password(struct admin_ctx *x)
{
    const char *cur = str_field(x, "current_password", PW_MAX);
    const char *next = str_field(x, "new_password", PW_MAX);
    char hash[256];
    const char *p[2];
    struct kv_strs out;
    enum status st;

    if (!cur || !next) {
        admin_error(x, 400, "Send {\"current_password\": ..., \"new_password\": ...}.");
        return;
    }
    if (strlen(next) < PW_MIN || strcmp(cur, next) == 0) {
        admin_error(x, 400,
                    "The new password must have at least 12 characters and differ from the "
                    "current one.");
        return;
    }
    if (!attempt_allowed(x, x->user))
        return;
    st = check_user(x->a, x->user, cur);
    if (st == ST_UNAVAILABLE) {
        store_failed(x, x->user);
        return;
    }
    if (st != ST_OK) {
        admin_error(x, 403, "The current password is wrong.");
        return;
    }
    attempt_forget(x, x->user);
    if (hash_password(next, hash, sizeof(hash)) != ST_OK) {
        admin_error(x, 500, "Could not hash the password.");
        return;
    }
    p[0] = x->user;
    p[1] = hash;
    if (db_exec(x->a->db,
                "UPDATE edge_users SET pw_hash = $2, password_changed_at = now() "
                "WHERE username = $1",
                2, p, NULL) != ST_OK) {
        admin_error(x, 503, "The user store is unavailable; retry shortly.");
        return;
    }
    const char *argv[] = {x->a->prefix, x->user, x->session};
    (void)kv_eval(x->a->kv, lua_revoke, 3, argv, &out);
    admin_sessions_ended(x->a, x->user, NULL, x->session);
    admin_audit(x, "password.change", x->user);
    admin_reply(x, 200,
                json_pack("{s:b,s:s}", "ok", 1, "revoked_sessions", out.n ? out.items[0] : "0"));
}
