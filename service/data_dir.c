/*
 * data_dir.c - the data dir at start-up (data_dir.h): half-written files removed, files no row
 * names moved to quarantine/<UTC time>/<folder>/, never deleted.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "data_dir.h"
#include "log.h"
#include "mlpt_err.h"
#include "store.h"

/* The paths (relative to the data dir: "datasets/x.mlds", "models/trial-1-....mlpm") that rows
 * name, sorted; ok == 0 when the store could not tell, and then no file may be taken for an
 * orphan. */
typedef struct known_files {
    char **names;
    size_t n, cap;
    int ok;
} known_files_t;

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int known_push(const char *rel, void *user) {
    known_files_t *k = user;
    if (k->n == k->cap) {
        size_t ncap = k->cap ? 2 * k->cap : 64;
        char **tmp = realloc(k->names, ncap * sizeof *tmp);
        if (!tmp)
            return MLPT_ENOMEM;
        k->names = tmp;
        k->cap = ncap;
    }
    if (!(k->names[k->n] = strdup(rel)))
        return MLPT_ENOMEM;
    k->n++;
    return 0;
}

static void known_free(known_files_t *k) {
    for (size_t i = 0; i < k->n; i++)
        free(k->names[i]);
    free(k->names);
}

static int known_has(const known_files_t *k, const char *rel) {
    return k->n && bsearch(&rel, k->names, k->n, sizeof *k->names, cmp_str);
}

/* Records one dataset's matrix path. */
static int known_dataset(int64_t id, const char *storage_path, void *user) {
    (void)id;
    return known_push(storage_path, user);
}

/* Opens the writer (creating and migrating a new database, and removing the files of rows
 * deleted just before a crash) and lists every file a row names. */
static void known_collect(const char *db, const char *data_dir, known_files_t *k) {
    store_error_t err = {0};
    store_t *st = store_open(db, STORE_WRITER, &err);
    k->ok = st && store_dataset_paths(st, known_dataset, k, &err) == 0 &&
            store_set_data_dir(st, data_dir, &err) == 0 &&
            store_files_named(st, known_push, k, &err) == 0;
    store_close(st);
    if (k->n)
        qsort(k->names, k->n, sizeof *k->names, cmp_str);
}

static int has_suffix(const char *name, const char *suffix) {
    size_t n = strlen(name), m = strlen(suffix);
    return n >= m && strcmp(name + n - m, suffix) == 0;
}

/* One folder of files that rows name. */
typedef struct folder {
    const char *sub;    /* "datasets", "models", "checkpoints" */
    const char *prefix; /* our files' names start so ("" for any) */
    const char *whole;  /* a finished file's suffix */
    const char *torn;   /* a half-written file holds this ("...tmp") */
    const char *what;   /* "dataset file" */
} folder_t;

static const folder_t FOLDERS[] = {
    {"datasets", "", ".mlds", ".mlds.tmp.", "dataset file"},
    {"models", "trial-", ".mlpm", ".tmp", "model file"},
    {"checkpoints", "trial-", ".mlpc", ".tmp", "checkpoint file"},
};

/* The start's quarantine: <data_dir>/quarantine/<UTC time>/, made on first use. */
typedef struct quarantine {
    const char *data_dir;
    char rel[64]; /* "quarantine/<time>" once made */
    int failed;   /* could not be made: files stay where they are */
    size_t counts[sizeof FOLDERS / sizeof FOLDERS[0]];
} quarantine_t;

static int make_dir(const char *path) {
    return mkdir(path, 0755) == 0 || errno == EEXIST ? 0 : -1;
}

/* Moves <sub>/<name> to quarantine/<time>/<sub>/<name>. 0, or -1 after logging why not. */
static int quarantine_move(quarantine_t *q, DIR *d, const char *sub, const char *name) {
    char path[4608];
    if (!q->rel[0] && !q->failed) {
        char stamp[32];
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
        snprintf(path, sizeof path, "%s/quarantine", q->data_dir);
        int ok = make_dir(path) == 0;
        snprintf(path, sizeof path, "%s/quarantine/%s", q->data_dir, stamp);
        if (ok && make_dir(path) == 0)
            snprintf(q->rel, sizeof q->rel, "quarantine/%s", stamp);
        else {
            svc_logf("warning", "cannot create the quarantine folder %s: %s", path,
                     strerror(errno));
            q->failed = 1;
        }
    }
    if (q->failed)
        return -1;
    snprintf(path, sizeof path, "%s/%s/%s", q->data_dir, q->rel, sub);
    if (make_dir(path) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/%s/%s/%s", q->data_dir, q->rel, sub, name);
    struct stat sb;
    if (lstat(path, &sb) == 0 || errno != ENOENT)
        return -1; /* never overwrite */
    return renameat(dirfd(d), name, AT_FDCWD, path);
}

/* One folder: torn files and probes removed, whole ones no row names quarantined. */
static void tidy_folder(const char *data_dir, size_t fi, const known_files_t *k, quarantine_t *q) {
    const folder_t *f = &FOLDERS[fi];
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/%s", data_dir, f->sub);
    DIR *d = opendir(dir);
    if (!d)
        return;
    int removed = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *name = e->d_name;
        if (strncmp(name, ".probe-", 7) == 0) { /* a /healthz probe a crash left */
            unlinkat(dirfd(d), name, 0);
            continue;
        }
        if (name[0] == '.' || strncmp(name, f->prefix, strlen(f->prefix)) != 0)
            continue;
        if (strstr(name, f->torn)) {
            removed += unlinkat(dirfd(d), name, 0) == 0;
            continue;
        }
        char rel[512];
        snprintf(rel, sizeof rel, "%s/%s", f->sub, name);
        if (!k->ok || !has_suffix(name, f->whole) || known_has(k, rel))
            continue;
        if (quarantine_move(q, d, f->sub, name) == 0) {
            svc_logf("warning", "%s %s: no row names it; moved to %s/%s (not deleted)", f->what,
                     rel, q->rel, rel);
            q->counts[fi]++;
        } else {
            svc_logf("warning", "%s %s: no row names it; left in place (cannot move it to %s)",
                     f->what, rel, q->rel[0] ? q->rel : "quarantine/");
        }
    }
    closedir(d);
    if (removed)
        svc_logf("info", "removed %d half-written %ss in %s/ (a crash cut their write)", removed,
                 f->what, f->sub);
}

/* Every file of dir (not its subfolders); returns how many went. */
static int remove_all_files(const char *dir) {
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *e;
    int removed = 0;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            removed += unlinkat(dirfd(d), e->d_name, 0) == 0;
    closedir(d);
    return removed;
}

size_t svc_data_dir_tidy(const char *data_dir, const char *db) {
    char uploads[4200];
    snprintf(uploads, sizeof uploads, "%s/uploads", data_dir);
    int removed = remove_all_files(uploads);
    if (removed)
        svc_logf("info", "removed %d unfinished uploads", removed);

    struct stat sb;
    int db_new = stat(db, &sb) != 0 || sb.st_size == 0;
    known_files_t k = {0};
    known_collect(db, data_dir, &k);
    size_t n_datasets = 0;
    for (size_t i = 0; i < k.n; i++)
        n_datasets += strncmp(k.names[i], "datasets/", 9) == 0;

    quarantine_t q = {.data_dir = data_dir};
    for (size_t fi = 0; fi < sizeof FOLDERS / sizeof FOLDERS[0]; fi++)
        tidy_folder(data_dir, fi, &k, &q);
    known_free(&k);

    size_t datasets = q.counts[0], others = q.counts[1] + q.counts[2];
    if (datasets && (db_new || n_datasets == 0))
        svc_logf("error",
                 "the database %s %s, yet %zu dataset files were found in %s/datasets: they were "
                 "moved to %s/%s/datasets and nothing was deleted. Unless this is a fresh start "
                 "on purpose, the database was deleted or replaced: to restore, stop mlptune, "
                 "put the database that names these files back as %s, move the files from "
                 "%s/%s/datasets back into %s/datasets and start mlptune again",
                 db, db_new ? "is new (it did not exist, or was empty)" : "names no dataset",
                 datasets, data_dir, data_dir, q.rel, db, data_dir, q.rel, data_dir);
    else if (datasets || others)
        svc_logf("warning",
                 "%zu dataset, %zu model and checkpoint files no row names were moved to %s/%s "
                 "(a crash between writing a file and recording it leaves one; a database "
                 "replaced by an older copy leaves more): delete them once they are known not "
                 "to be needed",
                 datasets, others, data_dir, q.rel);
    return datasets;
}
