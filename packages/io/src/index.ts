// @sd/io: file formats on host arrays, with no tensors: safetensors, NumPy .npy, PyTorch `torch.save`
// / TorchScript zips (restricted unpickler), half/bfloat16 conversions, crash-safe file writes, and
// loaders that read files from a folder (Node) or a URL (a page).
export * from './safetensors.ts';
export { readTorchCheckpoint, readTorchStateDict, type TorchCheckpoint, type TorchTensor, type TorchDtype } from './torch-pickle.ts';
export { unpickle, PyDict, type PickleGlobal, type PickleBuildable, type UnpickleOptions } from './pickle.ts';
export { ZipArchive, type ZipEntry } from './zip.ts';
export { halfBitsToFloat32, bfloat16BitsToFloat32, float32ToHalfBits, halfBitsToFloat } from './half.ts';
export { parseNpy, readNpy, encodeNpy, writeNpy, type NpyArray } from './npy.ts';
export { writeFileAtomic, writeTextAtomic } from './atomic-file.ts';
export { fileLoader, fetchLoader, type FileLoader } from './loader.ts';
