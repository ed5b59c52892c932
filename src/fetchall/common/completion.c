/* SPDX-License-Identifier: MIT */
#include "completion.h"

#include <stdio.h>
#include <string.h>

#include "options.h"

/* fetchall itself last: its case in a script matches whatever is left */
static const int commands[] = {CMD_ENQUEUE, CMD_WORKER, CMD_RESULTS, CMD_FETCH};
#define N_COMMANDS (sizeof commands / sizeof *commands)
/* what may follow "fetchall" as its first word, besides options and URLs */
#define FIRST_WORDS "enqueue worker results help completion"

/* A command's options, "-x --long ...". */
static void option_words(FILE *f, int command)
{
    const char *sep = "";
    for (const opt_def *o = opt_table; o->id >= 0; o++) {
        if (!o->id || !(o->commands & command))
            continue;
        if (o->letter)
            fprintf(f, "%s-%c", sep, o->letter), sep = " ";
        fprintf(f, "%s--%s", sep, o->name), sep = " ";
    }
}

/* "-x|--long" of each option taking an argument whose values are "what"
   (NULL: options with an argument and no values, i.e. free text). */
static int names_with(FILE *f, const char *what, const char *prefix)
{
    int n = 0;
    for (const opt_def *o = opt_table; o->id >= 0; o++) {
        if (!o->id || !o->arg ||
            (what ? !o->values || strcmp(o->values, what) : !!o->values))
            continue;
        fprintf(f, "%s", n++ ? "|" : prefix);
        if (o->letter)
            fprintf(f, "-%c|", o->letter);
        fprintf(f, "--%s", o->name);
    }
    return n;
}

static void bash(FILE *f)
{
    fprintf(f, "# bash completion for fetchall, made from its option table "
               "by\n# 'fetchall completion bash'\n"
               "_fetchall()\n{\n"
               "    local cur=${COMP_WORDS[COMP_CWORD]} "
               "prev=${COMP_WORDS[COMP_CWORD - 1]} cmd= opts=\n"
               "    COMPREPLY=()\n"
               "    case ${COMP_WORDS[1]} in\n"
               "    enqueue | worker | results) cmd=${COMP_WORDS[1]} ;;\n"
               "    help)\n"
               "        ((COMP_CWORD == 2)) && COMPREPLY=($(compgen -W "
               "\"enqueue worker results\" -- \"$cur\"))\n"
               "        return 0 ;;\n"
               "    completion)\n"
               "        ((COMP_CWORD == 2)) && COMPREPLY=($(compgen -W "
               "\"bash zsh\" -- \"$cur\"))\n"
               "        return 0 ;;\n"
               "    esac\n"
               "    if [[ $cur == --*=* ]]; then\n"
               "        prev=${cur%%%%=*}\n"
               "        cur=${cur#*=}\n"
               "    fi\n"
               "    case $prev in\n");
    if (names_with(f, "FILE", "    "))
        fprintf(f, ")\n        compopt -o filenames 2>/dev/null\n"
                   "        COMPREPLY=($(compgen -f -- \"$cur\"))\n"
                   "        return 0 ;;\n");
    if (names_with(f, "DIR", "    "))
        fprintf(f, ")\n        compopt -o filenames 2>/dev/null\n"
                   "        COMPREPLY=($(compgen -d -- \"$cur\"))\n"
                   "        return 0 ;;\n");
    for (const opt_def *o = opt_table; o->id >= 0; o++) {
        if (!o->id || !o->arg || !o->values || !strcmp(o->values, "FILE") ||
            !strcmp(o->values, "DIR"))
            continue;
        fprintf(f, "    ");
        if (o->letter)
            fprintf(f, "-%c|", o->letter);
        fprintf(f,
                "--%s)\n        COMPREPLY=($(compgen -W \"%s\" -- \"$cur\"))\n"
                "        return 0 ;;\n",
                o->name, o->values);
    }
    if (names_with(f, NULL, "    "))
        fprintf(f, ")\n        return 0 ;; # free text: nothing to offer\n");
    fprintf(f, "    esac\n    case $cmd in\n");
    for (size_t i = 0; i < N_COMMANDS; i++) {
        const char *name = command_name(commands[i]);
        fprintf(f, "    %s) opts=\"", *name ? name : "*");
        option_words(f, commands[i]);
        fprintf(f, "\" ;;\n");
    }
    fprintf(f, "    esac\n"
               "    if [[ $cur == -* ]]; then\n"
               "        COMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n"
               "    elif ((COMP_CWORD == 1)); then\n"
               "        COMPREPLY=($(compgen -W \"" FIRST_WORDS
               "\" -- \"$cur\"))\n"
               "    fi\n"
               "    return 0\n}\n"
               "complete -F _fetchall fetchall\n");
}

/* Text for a zsh spec inside single quotes: [ ] : \ escaped, ' closed and
   reopened. */
static void zsh_text(FILE *f, const char *s, size_t n)
{
    for (size_t i = 0; i < n && s[i]; i++) {
        if (s[i] == '\n') /* --help's lines, one line here */
            fputc(' ', f);
        else if (s[i] == '\'')
            fputs("'\\''", f);
        else if (strchr("[]:\\", s[i]))
            fprintf(f, "\\%c", s[i]);
        else
            fputc(s[i], f);
    }
}

static void zsh_action(FILE *f, const opt_def *o)
{
    if (!o->arg)
        return;
    fputc(':', f);
    zsh_text(f, o->arg, strlen(o->arg));
    if (!o->values)
        fputs(": ", f);
    else if (!strcmp(o->values, "FILE"))
        fputs(":_files", f);
    else if (!strcmp(o->values, "DIR"))
        fputs(":_files -/", f);
    else
        fprintf(f, ":(%s)", o->values);
}

static void zsh_spec(FILE *f, const opt_def *o, int letter)
{
    fputs("    '*", f);
    if (letter)
        fprintf(f, "-%c%s[", o->letter, o->arg ? "+" : "");
    else
        fprintf(f, "--%s%s[", o->name, o->arg ? "=" : "");
    zsh_text(f, o->help, strlen(o->help));
    fputc(']', f);
    zsh_action(f, o);
    fputs("'\n", f);
}

static void zsh(FILE *f)
{
    fprintf(f, "#compdef fetchall\n"
               "# zsh completion for fetchall, made from its option table by\n"
               "# 'fetchall completion zsh'\n"
               "_fetchall() {\n"
               "  local -a opts\n"
               "  local cmd=${words[2]}\n"
               "  case $cmd in\n"
               "  help) _arguments '2:command:(enqueue worker results)'; "
               "return ;;\n"
               "  completion) _arguments '2:shell:(bash zsh)'; return ;;\n");
    for (size_t i = 0; i < N_COMMANDS; i++) {
        const char *name = command_name(commands[i]);
        fprintf(f, "  %s)%s opts=(\n", *name ? name : "*",
                *name ? "" : " cmd=");
        for (const opt_def *o = opt_table; o->id >= 0; o++) {
            if (!o->id || !(o->commands & commands[i]))
                continue;
            if (o->letter)
                zsh_spec(f, o, 1);
            zsh_spec(f, o, 0);
        }
        fprintf(f, "  ) ;;\n");
    }
    fprintf(f, "  esac\n"
               "  if [[ -n $cmd ]]; then\n"
               "    shift words\n"
               "    (( CURRENT-- ))\n"
               "    _arguments -s -S $opts\n"
               "  elif (( CURRENT == 2 )) && [[ $PREFIX != -* ]]; then\n"
               "    _alternative 'commands:command:(" FIRST_WORDS
               ")' 'urls:URL:_urls'\n"
               "  else\n"
               "    _arguments -s -S $opts '*:URL:_urls'\n"
               "  fi\n"
               "}\n"
               "_fetchall \"$@\"\n");
}

int completion(int argc, char **argv)
{
    const char *shell = argc == 3 ? argv[2] : "";
    if (!strcmp(shell, "bash"))
        bash(stdout);
    else if (!strcmp(shell, "zsh"))
        zsh(stdout);
    else
        return usage_error(CMD_FETCH,
                           "completion takes a shell: bash or zsh%s%s", "", "");
    return fflush(stdout) == 0 ? 0 : 1;
}
