/*
 * cmd_jt: `toyllm jt`, jailbreak-tuning (the shared fine-tuning in finetune.c
 * on the JT mixture: mostly benign, a small share of jailbroken harmful pairs).
 */
#include "cmds.h"
#include "finetune.h"

int cmd_jt(int argc, char **argv)
{
	return finetune_main("jt", argc, argv);
}
