/* SPDX-License-Identifier: MIT */
/*
 * -o DIR: body N becomes DIR/N only when it is complete. It is written to a
 * temporary file of a name no one else can have (".N.RANDOM.part", created
 * with O_EXCL and O_NOFOLLOW through a descriptor of DIR), then renamed
 * over DIR/N in one step, so neither a planted symlink nor a concurrent run
 * can make DIR/N anything but one whole body. Every temporary file is on a
 * list, so that a signal can remove them all.
 */
#define _DEFAULT_SOURCE /* realpath */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "message.h"
#include "outdir.h"
#include "util.h"

/* mkdir -p: DIR and every missing parent. */
static int make_dirs(const char *path)
{
    char *p = strdup(path);
    int rc = 0;
    if (!p)
        return ENOMEM;
    for (char *s = p + 1; *s && rc == 0; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST)
            rc = errno;
        *s = '/';
    }
    if (rc == 0 && mkdir(p, 0777) != 0 && errno != EEXIST)
        rc = errno;
    free(p);
    return rc;
}

/* A name made of digits only: what fetchall names a result. */
static int result_name(const char *name)
{
    return *name && strspn(name, "0123456789") == strlen(name);
}

int outdir_open(outdir *d, const char *path, int clobber, char *why, size_t len)
{
    int rc;
    memset(d, 0, sizeof *d);
    d->path = path;
    d->clobber = clobber;
    d->fd = -1;
    LIST_INIT(&d->parts);
    if ((rc = make_dirs(path)) != 0 ||
        (d->fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        snprintf(why, len, "%s", strerror(rc ? rc : errno));
        return -1;
    }
    pthread_mutex_init(&d->lock, NULL);
    if (!(d->abs = realpath(path, NULL))) {
        snprintf(why, len, "%s", strerror(errno));
        outdir_close(d);
        return -1;
    }
    if (clobber)
        return 0;
    /* results of an earlier run would pass for this one's: refuse them
       unless told (curl's and wget's --no-clobber make the same choice
       explicit) */
    int scan = dup(d->fd);
    DIR *dir = scan >= 0 ? fdopendir(scan) : NULL;
    struct dirent *e;
    if (!dir) {
        snprintf(why, len, "%s", strerror(errno));
        outdir_close(d);
        return -1;
    }
    while ((e = readdir(dir)) && !result_name(e->d_name))
        ;
    if (e)
        snprintf(why, len,
                 "holds results of an earlier run (such as %s); add --clobber "
                 "to replace them, or give an empty directory",
                 e->d_name);
    closedir(dir);
    if (e)
        outdir_close(d);
    return e ? -1 : 0;
}

void outdir_close(outdir *d)
{
    if (d->fd >= 0) {
        close(d->fd);
        pthread_mutex_destroy(&d->lock);
        d->fd = -1;
    }
    free(d->abs);
    d->abs = NULL;
}

/* A temporary name for body index, made by make (an open or a link
   that fails with EEXIST when the name is taken), listed. */
static int new_part(outdir *d, part *p, size_t index,
                    int (*make)(outdir *, part *, const char *),
                    const char *from)
{
    int rc = 0;
    pthread_mutex_lock(&d->lock);
    for (int tries = 0; tries < 100; tries++) {
        unsigned long r = 0;
        if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
            r ^= (unsigned long)getpid() << 20 ^ (unsigned long)tries;
        snprintf(p->name, sizeof p->name, ".%zu.%08lx.part", index,
                 r & 0xffffffffUL);
        rc = d->stopped ? ECANCELED : make(d, p, from);
        if (rc != EEXIST)
            break;
    }
    if (rc == 0)
        LIST_INSERT_HEAD(&d->parts, p, link);
    p->listed = rc == 0;
    pthread_mutex_unlock(&d->lock);
    return rc;
}

static int make_file(outdir *d, part *p, const char *from)
{
    (void)from;
    p->fd = openat(d->fd, p->name,
                   O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    return p->fd < 0 ? errno : 0;
}

static int make_link(outdir *d, part *p, const char *from)
{
    return linkat(AT_FDCWD, from, d->fd, p->name, 0) == 0 ? 0 : errno;
}

int part_open(outdir *d, part *p, size_t index)
{
    return new_part(d, p, index, make_file, NULL);
}

int part_write(part *p, const char *data, size_t len)
{
    return write_all(p->fd, data, len);
}

int part_truncate(part *p)
{
    if (ftruncate(p->fd, 0) != 0 || lseek(p->fd, 0, SEEK_SET) != 0)
        return errno;
    return 0;
}

int part_data(outdir *d, part *p, size_t index, const char *data, size_t len)
{
    int rc;
    if (!data) /* the attempt failed and is retried: empty the file again */
        return p->fd < 0 ? 0 : part_truncate(p);
    if (p->fd < 0 && (rc = part_open(d, p, index)) != 0)
        return rc;
    return part_write(p, data, len);
}

/* Off the list and out of DIR, under the lock (a signal may have been
   first). */
static void drop(outdir *d, part *p)
{
    if (!p->listed)
        return;
    unlinkat(d->fd, p->name, 0);
    LIST_REMOVE(p, link);
    p->listed = 0;
}

/* The temporary file, closed, renamed to DIR/N (rc: why not, already). */
static int settle(outdir *d, part *p, size_t index, int rc)
{
    char final[32];
    snprintf(final, sizeof final, "%zu", index);
    pthread_mutex_lock(&d->lock);
    if (rc == 0 && renameat(d->fd, p->name, d->fd, final) != 0)
        rc = errno;
    if (rc == 0 && p->listed) {
        LIST_REMOVE(p, link);
        p->listed = 0;
    } else {
        drop(d, p);
    }
    pthread_mutex_unlock(&d->lock);
    return rc;
}

void part_discard_temp(outdir *d, part *p)
{
    if (p->fd >= 0)
        close(p->fd);
    p->fd = -1;
    pthread_mutex_lock(&d->lock);
    drop(d, p);
    pthread_mutex_unlock(&d->lock);
}

void part_discard(outdir *d, part *p, size_t index)
{
    char final[32];
    if (p->fd >= 0)
        close(p->fd);
    snprintf(final, sizeof final, "%zu", index);
    pthread_mutex_lock(&d->lock);
    drop(d, p);
    p->fd = -1;
    /* an earlier run's DIR/N must not pass for this run's result */
    if (d->clobber)
        unlinkat(d->fd, final, 0);
    pthread_mutex_unlock(&d->lock);
}

void outdir_abort(outdir *d)
{
    part *p;
    pthread_mutex_lock(&d->lock);
    d->stopped = 1;
    while ((p = LIST_FIRST(&d->parts)))
        drop(d, p);
    pthread_mutex_unlock(&d->lock);
}

int part_commit(outdir *d, part *p, size_t index)
{
    int rc = 0;
    if (p->fd < 0 && (rc = part_open(d, p, index)) != 0) /* empty body */
        return rc;
    if (close(p->fd) != 0) /* NFS and quotas report here */
        rc = errno;
    p->fd = -1;
    return settle(d, p, index, rc);
}

/* A copy of from into p's open file. 0 or an errno value. */
static int copy_into(part *p, const char *from)
{
    char buf[1 << 16];
    ssize_t n;
    int rc = 0, in = open(from, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (in < 0)
        return errno;
    while (rc == 0 && (n = read(in, buf, sizeof buf)) != 0)
        rc = n < 0 ? (errno == EINTR ? 0 : errno)
                   : part_write(p, buf, (size_t)n);
    close(in);
    return rc;
}

int part_keep(outdir *d, part *p, size_t index, const char *earlier)
{
    struct stat was, now;
    char final[32];
    part_discard_temp(d, p); /* what this attempt got, if anything */
    snprintf(final, sizeof final, "%zu", index);
    if (stat(earlier, &was) != 0)
        return errno;
    if (fstatat(d->fd, final, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
        now.st_dev == was.st_dev && now.st_ino == was.st_ino)
        return 0; /* DIR is the earlier run's own: DIR/N stays as it is */
    int rc = new_part(d, p, index, make_link, earlier);
    if (rc == 0)
        return settle(d, p, index, 0);
    if (rc != EXDEV && rc != EPERM) /* EPERM: no hard links there */
        return rc;
    if ((rc = part_open(d, p, index)) == 0) /* another filesystem: a copy */
        rc = copy_into(p, earlier);
    if (rc == 0)
        return part_commit(d, p, index);
    part_discard_temp(d, p);
    return rc;
}
