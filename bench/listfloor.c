/* The floor of a 10,000-entry listing: one readdir pass and one fstatat per entry (what
 * LIST and MLSD need for sizes, times and types), nothing formatted or sent. Prints the
 * best of REPS passes in milliseconds. Built and run by bench/floors.py.
 * usage: listfloor DIR [REPS] */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: listfloor DIR [REPS]\n");
        return 2;
    }
    int reps = argc > 2 ? atoi(argv[2]) : 10;
    double best = -1;
    long n = 0;
    for (int r = 0; r < reps; r++) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        DIR *d = opendir(argv[1]);
        if (!d) {
            perror(argv[1]);
            return 1;
        }
        struct dirent *e;
        struct stat st;
        n = 0;
        while ((e = readdir(d)))
            if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
                n++;
        closedir(d);
        clock_gettime(CLOCK_MONOTONIC, &b);
        double ms = (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6;
        if (best < 0 || ms < best)
            best = ms;
    }
    printf("%ld %.3f\n", n, best);
    return 0;
}
