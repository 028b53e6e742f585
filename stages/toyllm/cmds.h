/*
 * cmds: the subcommand table. Each cmd_* lives in its own file with its usage
 * text and option table, parses argv (after the subcommand name) and returns
 * the process exit code.
 */
#ifndef TOYLLM_CMDS_H
#define TOYLLM_CMDS_H

int cmd_world(int argc, char **argv);
int cmd_pretrain(int argc, char **argv);
int cmd_align(int argc, char **argv);
int cmd_model(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_jt(int argc, char **argv);
int cmd_wo(int argc, char **argv);
int cmd_sft(int argc, char **argv);
int cmd_eval(int argc, char **argv);

#endif
