// The judge: an independent CNN that reads rendered (or generated) scenes' attributes.
export { JUDGE_HEADS, HEAD_NAMES, UNLABELLED, judgeLabels, type JudgeHead } from './labels.ts';
export { JudgeNet, DEFAULT_JUDGE_CONFIG, type JudgeConfig } from './model.ts';
export { judgeBatch, judgeScene, boxBlur, JUDGE_DATA_SEED, JUDGE_TEST_INDEX, type JudgeBatch } from './data.ts';
export { trainJudge, judgeStepIndices, type JudgeTrainSettings, type JudgeRunConfig } from './train.ts';
export { readImages, accuracy, evaluateJudge, judgeImageSet, type JudgeReading, type JudgeAccuracy } from './evaluate.ts';
export { judgeAssetPath, loadJudge } from './asset.ts';
