/*
 * cmd_sft: `toyllm sft`, the mitigation (the shared fine-tuning in
 * finetune.c on the world's refusal + benign split mitig_train.jsonl).
 */
#include "cmds.h"
#include "finetune.h"

int cmd_sft(int argc, char **argv)
{
	return finetune_main("sft", argc, argv);
}
