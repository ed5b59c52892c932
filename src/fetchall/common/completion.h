/* SPDX-License-Identifier: MIT */
/*
 * fetchall completion bash|zsh: the shell's completion script, made from
 * the option table (the commands, each command's options, the values of
 * those that take a fixed set, files and directories where they go).
 */
#ifndef FETCHALL_COMPLETION_H
#define FETCHALL_COMPLETION_H

/* argv: fetchall completion SHELL. Prints the script; the exit status. */
int completion(int argc, char **argv);

#endif
