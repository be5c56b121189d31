/*
 * Replays a fuzz corpus (every file in the directories given) through a target, so the corpus
 * runs as an ordinary test in every build (ctest label fuzz). Built with libFuzzer when
 * SB_FUZZ=ON (clang), the same targets fuzz for real instead.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "lib/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rbe");
    struct buf b;
    char chunk[4096];
    size_t n;

    if (!f)
        return -1;
    buf_init(&b, 1 << 24);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if (buf_append(&b, chunk, n) != ST_OK)
            break;
    (void)fclose(f);
    (void)LLVMFuzzerTestOneInput((const uint8_t *)(b.data ? b.data : ""), b.len);
    buf_done(&b);
    return 0;
}

int main(int argc, char **argv)
{
    unsigned count = 0;

    for (int i = 1; i < argc; i++) {
        DIR *d = opendir(argv[i]);
        struct dirent *e;
        if (!d) {
            if (run_file(argv[i]) == 0)
                count++;
            continue;
        }
        while ((e = readdir(d)) != NULL) {
            char p[4096];
            if (e->d_name[0] == '.')
                continue;
            (void)snprintf(p, sizeof(p), "%s/%s", argv[i], e->d_name);
            if (run_file(p) == 0)
                count++;
        }
        (void)closedir(d);
    }
    printf("replayed %u inputs\n", count);
    return count ? EXIT_SUCCESS : EXIT_FAILURE;
}
