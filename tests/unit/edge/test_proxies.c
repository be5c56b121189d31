/* Trusted proxies: X-Forwarded-For is believed only from them, read right to left. */
#include <string.h>

#include "proxies.h"
#include "unit.h"

static const char *client(const struct proxies *p, const char *peer, const char *xff)
{
    static char out[64];

    proxies_client(p, peer, xff, out, sizeof(out));
    return out;
}

static void test_client(void **state)
{
    struct proxies p;
    char err[128];

    (void)state;
    assert_int_equal(proxies_parse("", &p, err, sizeof(err)), ST_OK);
    /* no trusted proxy: the header is anybody's to write, and ignored */
    assert_string_equal(client(&p, "203.0.113.9", "1.2.3.4"), "203.0.113.9");
    assert_int_equal(proxies_parse("10.0.0.0/8, 192.168.1.7 fd00::/8", &p, err, sizeof(err)),
                     ST_OK);
    assert_int_equal(p.n, 3);
    assert_string_equal(client(&p, "10.1.2.3", "198.51.100.7"), "198.51.100.7");
    /* a client's own forged entry is left of what the proxies appended */
    assert_string_equal(client(&p, "10.1.2.3", "6.6.6.6, 198.51.100.7, 10.9.9.9"), "198.51.100.7");
    assert_string_equal(client(&p, "192.168.1.7", " 2001:db8::1 "), "2001:db8::1");
    assert_string_equal(client(&p, "192.168.1.8", "198.51.100.7"), "192.168.1.8");
    assert_string_equal(client(&p, "fd00::5", "198.51.100.7"), "198.51.100.7");
    assert_string_equal(client(&p, "10.1.2.3", NULL), "10.1.2.3");
    assert_string_equal(client(&p, "10.1.2.3", "not-an-address"), "10.1.2.3");
    /* every hop trusted: the left-most is as far as anyone knows */
    assert_string_equal(client(&p, "10.1.2.3", "10.0.0.1"), "10.0.0.1");
    assert_int_equal(proxies_parse("10.0.0.0/33", &p, err, sizeof(err)), ST_INVALID);
    assert_non_null(strstr(err, "10.0.0.0/33"));
    assert_int_equal(proxies_parse("proxy.local", &p, err, sizeof(err)), ST_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_client)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
