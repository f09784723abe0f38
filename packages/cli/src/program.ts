// The `sd` commands and their options (main.ts runs them; tests read the defaults from here).
import { PROCEDURAL_VAE_CONFIG } from '@sd/models';
import { Command } from 'commander';
import type { EvalCli } from './options.ts';
import { infoCommand } from './commands/info.ts';
import { trainPriorCommand } from './commands/train-prior.ts';
import { trainClipCommand } from './commands/train-clip.ts';
import { encodeCommand } from './commands/encode.ts';
import { evalCommand } from './commands/eval.ts';
import { evalPriorCommand } from './commands/eval-prior.ts';
import { buildEmbeddedCommand } from './commands/build-embedded.ts';
import { sampleCommand } from './commands/sample.ts';
import { evalClipCommand } from './commands/eval-clip.ts';
import { trainVaeCommand } from './commands/train-vae.ts';
import { trainDecoderCommand } from './commands/train-decoder.ts';
import { trainJudgeCommand } from './commands/train-judge.ts';
import { evalDecoderCommand } from './commands/eval-decoder.ts';

export function buildProgram(): Command {
  const program = new Command('sd').description('Shifted Diffusion on WebGPU').showHelpAfterError();

  program.command('info').description('show the WebGPU adapter, its features and limits').option('--json', 'print JSON').action(infoCommand);

  program
    .command('train-prior')
    .description('train the shifted-diffusion prior (and the unshifted baseline), then evaluate both')
    .option('--data <dir>', 'embedding pairs: clip-retrieval folder (img_emb/, text_emb/) or image_/text_embeddings.npy; default: the embedded dataset')
    .option('--holdout <n>', 'with --data: hold out the last n pairs for evaluation (default 10%)')
    .option('--size <name>', 'model size: tiny, small or seed', 'tiny')
    .option('--steps <n>', 'training steps (per prior)', '800')
    .option('--batch-size <n>', 'batch size', '64')
    .option('--lr <x>', 'peak learning rate', '3e-4')
    .option('--clusters <k>', 'K clusters of the shift statistics (1 had the lowest validation FD of K ∈ {1, 8, 64} × std_scale ∈ {1, 3, 5}; see the README)', '1')
    .option('--std-scale <x>', 's = std_scale·σ (3: the lowest validation FD with K = 1; see the README)', '3')
    .option('--drop-text <p>', 'classifier-free guidance drop rate', '0.1')
    .option('--seed <n>', 'random seed', '0')
    .option('--seeds <list>', 'several training seeds (e.g. 0,1,2): each prior once per seed in --out/seed-N/, then mean ± std and paired bootstrap 95% intervals of shifted − baseline')
    .option('--eval-split <split>', "the embedded default's split to evaluate on: 'validation' (tuning) or 'test' (final tables only)", 'validation')
    .option('--bootstrap <n>', 'with --seeds: bootstrap resamples of the intervals (the Fréchet distance uses at most 200)', '1000')
    .option('--baseline', 'train only the unshifted baseline')
    .option('--no-compare', 'train only the shifted prior (no baseline)')
    .option('--ema <decay>', 'EMA decay cap (0 = off)', '0')
    .option('--loss-weight <mode>', "the x₀ loss's weight per timestep: 'one-minus-alpha-bar' (the seed's 1−ᾱ_t) or 'uniform'", 'one-minus-alpha-bar')
    .option('--eval-steps <n>', 'sampling steps for evaluation', '8')
    .option('--guidance <w>', 'classifier-free guidance weight for evaluation', '1')
    .option('--resume', 'continue from the checkpoints in --out')
    .option('--no-record', 'run every training step eagerly instead of replaying a recording of it (the same results, more host time)')
    .option('--out <dir>', 'run directory', 'runs/prior')
    .action(trainPriorCommand);

  program
    .command('train-clip')
    .description('train the small default CLIP on the procedural captioned images, evaluate and export it')
    .option('--steps <n>', 'training steps', '3000')
    .option('--batch-size <n>', 'batch size', '128')
    .option('--lr <x>', 'peak learning rate', '1e-3')
    .option('--seed <n>', 'random seed', '0')
    .option('--resolution <px>', 'image side the ViT sees (the default CLIP: 64); with --init, moves the model to it (same token grid, patch kernel upsampled)')
    .option('--patch-size <px>', 'ViT patch side (the default CLIP: 16)')
    .option('--contrast <fraction>', 'fraction of each batch in contrast groups (scenes differing in one attribute)', '0.5')
    .option('--group-size <n>', 'largest contrast group', '8')
    .option('--contrast-on <attributes>', 'attributes the groups vary, in turn (repeat one to weight it)', 'colour,shape,position,size')
    .option('--init <file>', 'start from these weights (a train-clip checkpoint or an exported CLIP; its config is used)')
    .option('--eval-count <n>', 'held-out images per zero-shot evaluation', '500')
    .option('--resume', 'continue from the checkpoint in --out')
    .option('--export [path]', 'write the F16 default checkpoint (default: packages/models/assets/default-clip.safetensors)')
    .option('--out <dir>', 'run directory', 'runs/clip')
    .action(trainClipCommand);

  program
    .command('train-vae')
    .description('train the VAE (AutoencoderKL, 64×64 → 16×16×4) on images, measure its scaling_factor and held-out PSNR')
    .option('--data <dir>', 'an imagefolder of 64×64 images (captions not needed); default: the procedural images')
    .option('--holdout <n>', 'with --data: hold out the last n images for evaluation (default 10%)')
    .option('--steps <n>', 'training steps (the default: ~30 min on the loaded 2-core machine)', '3000')
    .option('--batch-size <n>', 'batch size', '16')
    .option('--lr <x>', 'peak learning rate (AdamW; 2e-3 beat 5e-4 by 3.4 dB of held-out PSNR at 150 steps)', '2e-3')
    .option('--kl-weight <x>', 'weight of the KL term against the reconstruction error, both summed per image (SD: 1e-6)', '1e-6')
    .option('--widths <list>', "the three blocks' channels (block_out_channels), multiples of 8", '8,16,32')
    .option('--norm-groups <n>', "GroupNorm's groups (norm_num_groups), dividing every width (2 beat 8 by 1.9 dB and 15 points of colour in equal runs)", String(PROCEDURAL_VAE_CONFIG.norm_num_groups))
    .option('--crop <n>', 'train on random n×n windows of the images (a multiple of 4, at most 64; 64: whole images)', '32')
    .option('--crop-share <x>', 'with --crop below 64: the share of the steps (the first ones) trained on crops; the rest train on whole images', '0.75')
    .option('--schedule <name>', 'learning rate after warm-up: constant or cosine (decays to 0 at the last step)', 'cosine')
    .option('--seed <n>', 'random seed', '0')
    .option('--resume', 'continue from the checkpoint in --out')
    .option('--zero-shot-count <n>', 'held-out single-object images the default CLIP classifies, originals and reconstructions (0: skip; procedural data only)', '500')
    .option('--out <dir>', 'run directory', 'runs/vae')
    .action(trainVaeCommand);

  program
    .command('train-decoder')
    .description('train the language-free decoder UNet on VAE latents, conditioned on each image\'s CLIP image embedding')
    .option('--vae <dir>', 'a diffusers AutoencoderKL folder (default: runs/vae/final, what `pnpm train:vae` writes, else the committed default VAE)')
    .option('--clip <path>', "CLIP checkpoint: exported, OpenAI .pt or Hugging Face; repeat for a MultiCLIP whose embeddings are the concatenation (the decoder's input_dim follows; default: the committed default CLIP)", collect, [])
    .option('--clip-normalize <mode>', "with several --clip: 'per-model' (each model's embedding unit-normalised) or 'none' (raw, as the seed's 1536-d embeddings)", 'per-model')
    .option('--data <dir>', 'an imagefolder of images at the VAE\'s sample_size (captions never read); default: the procedural images')
    .option('--holdout <n>', 'with --data: hold out the last n images (their embeddings feed the sample grids; default 10%)')
    .option('--steps <n>', 'training steps (about 1 s each at batch 16 on the 2-core machine: the default run takes under an hour)', '3000')
    .option('--batch-size <n>', 'batch size', '16')
    .option('--lr <x>', 'peak learning rate (AdamW, warm-up over min(100, steps/10) steps)', '5e-4')
    .option('--seed <n>', 'random seed', '0')
    .option('--sample-every <n>', 'write a grid of held-out originals and their decoded embeddings every n steps (0: only at the end)', '250')
    .option('--prediction <type>', 'what the UNet predicts: v_prediction (SD 2-768; the default: it learns the layout far sooner here) or epsilon (SD 1)', 'v_prediction')
    .option('--decay-steps <n>', 'decay the learning rate linearly to 0 over the last n steps (0: constant after warm-up); may be set when resuming a run whose checkpoint is at or before the decay\'s start, and must be given again to resume a run that has one', '0')
    .option('--resume', 'continue from the checkpoint in --out')
    .option('--no-record', 'run every training step eagerly instead of replaying a recording of it (the same results, more host time)')
    .option('--out <dir>', 'run directory', 'runs/decoder')
    .action(trainDecoderCommand);

  program
    .command('train-judge')
    .description('train the judge CNN on procedural renders with their exact labels (shape, colour, size, position, background, object count) and report its test accuracy')
    .option('--steps <n>', 'training steps (~1 it/s at batch 64 on the loaded 2-core machine)', '2000')
    .option('--batch-size <n>', 'batch size', '64')
    .option('--lr <x>', 'peak learning rate (AdamW, warm-up, clipping at 1)', '2e-3')
    .option('--seed <n>', 'random seed (initial weights and augmentation)', '0')
    .option('--eval-count <n>', 'clean test renders the accuracy is measured on', '2000')
    .option('--resume', 'continue from the checkpoint in --out')
    .option('--no-record', 'run every training step eagerly instead of replaying a recording of it (the same results, more host time)')
    .option('--export [path]', 'write the weights and accuracies as the committed judge (default: packages/models/assets/judge.safetensors)')
    .option('--out <dir>', 'run directory', 'runs/judge')
    .action(trainJudgeCommand);

  program
    .command('sample [captions...]')
    .description('generate images from captions: CLIP text embedding → prior → decoder → VAE → PNG grid (a row per caption); or decode given image embeddings (--image-embedding)')
    .option('--prior <name>', "'shifted', 'baseline' (runs/prior/…, else the committed default pair), a prior run directory or checkpoint, or 'none' (decode the text embedding itself)", 'shifted')
    .option('--decoder <dir>', 'the decoder UNet folder (default: runs/decoder/final, else the committed default)')
    .option('--vae <dir>', 'the VAE folder (default: runs/vae/final, else the committed default)')
    .option('--clip <path>', 'CLIP checkpoint (default: the committed default CLIP); repeat for the MultiCLIP the prior and decoder were trained with', collect, [])
    .option('--clip-normalize <mode>', "with several --clip: 'per-model' or 'none', as at training", 'per-model')
    .option('--n <n>', 'images per caption', '4')
    .option('--steps <n>', 'decoder sampling steps', '25')
    .option('--scheduler <name>', 'decoder sampler on its training schedule: ddim, euler or dpm++', 'ddim')
    .option('--guidance <w>', 'decoder classifier-free guidance', '3')
    .option('--image-embedding <file>', 'decode the image embeddings in this .npy ([n, dim] or [dim]; rows normalised as the decoder was trained: unit rows for one CLIP) instead of captions: a row of --n images each')
    .option('--seed <n>', 'random seed', '0')
    .option('--out <file>', 'the PNG grid', 'samples.png')
    .option('--out-dir <dir>', 'also one PNG per image here')
    .action(sampleCommand);

  program
    .command('eval-decoder')
    .description("the decoder alone: decode the true CLIP image embeddings of held-out images and compare the default CLIP's zero-shot accuracy on them with the real images'")
    .option('--decoder <dir>', 'the decoder UNet folder (default: runs/decoder/final, else the committed default)')
    .option('--vae <dir>', 'the VAE folder (default: runs/vae/final, else the committed default)')
    .option('--clip <file>', 'an exported CLIP (default: the committed default CLIP)')
    .option('--n <n>', 'held-out single-object images', '500')
    .option('--steps <n>', 'decoder sampling steps', '25')
    .option('--scheduler <name>', 'decoder sampler on its training schedule: ddim, euler or dpm++', 'ddim')
    .option('--guidance <w>', 'decoder classifier-free guidance', '3')
    .option('--image-embedding <file>', 'decode the image embeddings in this .npy ([n, dim] or [dim]; rows L2-normalised, as the decoder was trained) instead of captions: a row of --n images each')
    .option('--seed <n>', 'seed of the starting noise', '0')
    .option('--batch-size <n>', 'images decoded at once (one noise stream is drawn batch after batch, so it is part of the result)', '50')
    .option('--out <file>', 'the JSON report (a grid of the first 8 goes next to it as .png)', 'runs/decoder/oracle.json')
    .action(async (o) => { await evalDecoderCommand(o); });

  program
    .command('eval-clip [file]')
    .description('zero-shot accuracy and retrieval of an exported CLIP (default: the default CLIP)')
    .option('--eval-count <n>', 'held-out images per zero-shot evaluation', '500')
    .option('--n <n>', 'held-out pairs for text→image retrieval', '1000')
    .option('--seed <n>', 'first sample index of the evaluation images (the README cites 1e7, 2e7, 3e7)', '10000000')
    .option('--update', 'record the evaluation in the file\'s metadata')
    .action(evalClipCommand);

  program
    .command('eval')
    .description('the image-level evaluation: each arm (shifted and baseline prior, the text embedding, a ridge map, the oracle image embedding) decoded by the same decoder with the same noise; the judge, judge-FID/KID and CLIP cosines per arm, and shifted − baseline with paired bootstrap intervals')
    .option('--split <split>', "the embedded default's split: 'test' (final tables) or 'validation' (every choice)", 'test')
    .option('--n <n>', 'captions (the first n rows of the split)', '500')
    .option('--arms <list>', 'arms to decode, comma-separated', 'shifted,baseline,text,ridge,oracle')
    .option('--steps <n>', 'decoder sampling steps (10: the default fits 30 min on the 2-core machine; 25 gave the same oracle accuracies within a point)', '10')
    .option('--guidance <list>', 'decoder classifier-free guidance; several (comma-separated) sweep it and plot FID against CLIP similarity', '3')
    .option('--scheduler <name>', 'decoder sampler: ddim, euler or dpm++', 'ddim')
    .option('--seed <n>', 'seed of the priors\' sampling and the decoder\'s starting noise (the same for every arm)', '0')
    .option('--batch-size <n>', 'images decoded at once', '50')
    .option('--prior-steps <n>', 'prior sampling steps (guidance 1, as the prior\'s evaluation)', '8')
    .option('--bootstrap <n>', 'bootstrap resamples of the shifted − baseline intervals', '1000')
    .option('--diversity <n>', "per-caption diversity on the split's first n captions (0: off): each arm's samples for a caption against real renders of scenes the caption describes", '100')
    .option('--diversity-samples <n>', 'samples (and real renders) per caption for the diversity', '8')
    .option('--no-images', 'skip the decoder: the embedding-level metrics and the diversity only')
    .option('--priors <dir>', 'the priors of several training seeds: a `train:prior --seeds` output (DIR/seed-N/{shifted,baseline}); each prior arm runs once per seed, its rows are the means, and shifted − baseline is paired over captions and averaged over seeds')
    .option('--full', 'the full run: guidance 1,2,3,5 (overrides --guidance) and the priors of several training seeds (--priors, default runs/prior: `pnpm train:prior --seeds 0,1,2` writes them)')
    .option('--shifted <dir>', 'the shifted prior (default: runs/prior/shifted, else the committed default)')
    .option('--baseline <dir>', 'the baseline prior (default: runs/prior/baseline, else the committed default)')
    .option('--decoder <dir>', 'the decoder UNet folder (default: runs/decoder/final, else the committed default)')
    .option('--vae <dir>', 'the VAE folder (default: runs/vae/final, else the committed default)')
    .option('--out <dir>', 'where eval.json, the image grids and the plot go', 'runs/eval')
    .action(async (o: EvalCli) => void (await evalCommand(o)));

  program
    .command('eval-prior')
    .description('evaluate trained priors (shifted and baseline side by side) on held-out pairs')
    .option('--run <dir>', 'run directory of `sd train-prior`', 'runs/prior')
    .option('--data <dir>', 'embedding pairs (default: the embedded dataset)')
    .option('--holdout <n>', 'with --data: the last n pairs are the held-out set (default 10%)')
    .option('--eval-split <split>', "the embedded default's split to evaluate on: 'validation' (tuning) or 'test' (final tables only)", 'validation')
    .option('--steps <n>', 'sampling steps', '8')
    .option('--guidance <w>', 'classifier-free guidance weight', '1')
    .option('--seed <n>', 'sampling seed', '0')
    .action(evalPriorCommand);

  program
    .command('encode <imagefolder>')
    .description('encode an imagefolder (metadata.jsonl with file_name, text) to the clip-retrieval layout')
    .option('--out <dir>', 'output folder (img_emb/, text_emb/, metadata/)', 'runs/embeddings')
    .option('--clip <path>', 'CLIP checkpoint: exported, OpenAI .pt or Hugging Face; repeat for a MultiCLIP whose embeddings are the concatenation (default: the committed default CLIP)', collect, [])
    .option('--clip-normalize <mode>', "with several --clip: 'per-model' (each model's embedding unit-normalised) or 'none' (raw, as the seed's 1536-d embeddings)", 'per-model')
    .action(encodeCommand);

  program
    .command('build-embedded')
    .description('rebuild the embedded default prior data from the procedural dataset and the default CLIP')
    .option('--train <n>', 'training pairs', '6000')
    .option('--validation <n>', 'validation pairs (shape–colour combinations train never has; every tuning decision)', '1000')
    .option('--test <n>', 'test pairs (the same combinations, other scenes; final tables only)', '1000')
    .option('--splits <list>', 'which splits to (re)build; the others are kept', 'train,validation,test')
    .action(buildEmbeddedCommand);

  return program;
}

/** Commander's accumulator for a repeatable option. */
function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
