/* URL input: arguments first, then one URL a line from -i FILE or stdin. */
#include <stdlib.h>
#include <string.h>

#include "fetchall.h"

int input_open(input *in, char **args, int nargs, const char *path)
{
    memset(in, 0, sizeof *in);
    in->args = args;
    in->nargs = nargs;
    if (!path)
        return 0;
    if (!strcmp(path, "-")) {
        in->file = stdin;
        return 0;
    }
    in->file = fopen(path, "r");
    in->close_file = 1;
    return in->file ? 0 : -1;
}

const char *input_next(input *in)
{
    if (in->next_arg < in->nargs)
        return in->args[in->next_arg++];
    while (in->file && getline(&in->line, &in->cap, in->file) >= 0) {
        char *s = in->line, *e;
        s += strspn(s, " \t\r\n");
        e = s + strlen(s);
        while (e > s && strchr(" \t\r\n", e[-1]))
            *--e = '\0';
        if (*s && *s != '#') /* skip blank lines and comments */
            return s;
    }
    return NULL;
}

void input_close(input *in)
{
    if (in->close_file && in->file)
        fclose(in->file);
    free(in->line);
}
