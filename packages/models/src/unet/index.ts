export { UNet2DConditionModel, UNet2DConditionModelEmb, unetFromConfig, type UNetInputs, type UNetEmbInputs, type UNetBuildOptions } from './model.ts';
export { readUNetConfig, UNET_SCHEMA, UNET_EMB_SCHEMA, SD2_BASE_UNET_CONFIG, TINY_DECODER_UNET_CONFIG, type UNetConfig, type UNetEmbConfig, type UNetLayout } from './config.ts';
export { ResnetBlock2D, Downsample2D, Upsample2D, type ResnetOptions } from './resnet.ts';
export { Transformer2DModel, BasicTransformerBlock, Attention as UNetAttention, attend, type Transformer2DOptions } from './transformer.ts';
export { DownBlock2D, UpBlock2D, UNetMidBlock2DCrossAttn } from './blocks.ts';
export { timestepEmbedding, timestepFeatureTable, TimestepEmbedding } from './time.ts';
