"""The facts about MNN's file layout that the reader needs (MNN 3.6.1; see docs/mnn.md).

Not MNN's schema: only the enums and the table fields the linter reads, written as data.  A field is
``(name, slot, kind, default)``; slot is the field's declaration order in MNN's schema, kind is a scalar kind of
``flatbuf.SCALARS``, ``str``, ``[kind]`` for a small numeric vector or ``@Table`` for a nested table.  Large
weight vectors are not listed here: the loader reads them lazily.
"""

from __future__ import annotations

from typing import Dict, List, Tuple


def _enum(text: str) -> Dict[int, str]:
    out = {}
    for item in text.split():
        name, _, value = item.partition("=")
        out[int(value)] = name
    return out


OP_TYPES = _enum("""
AbsVal=0 QuantizedAdd=1 ArgMax=2 AsString=3 InstanceNorm=4 BatchToSpaceND=5 Copy=6 BinaryOp=7 Bnll=8 Cast=9
Concat=10 Const=11 Convolution=12 ConvolutionDepthwise=13 Crop=14 CropAndResize=15 ImageProcess=16 Deconvolution=17
DeconvolutionDepthwise=18 Dequantize=19 DetectionOutput=20 Dropout=21 Eltwise=22 ELU=23 Unique=24 Exp=25
ExpandDims=26 Fill=27 Flatten=28 Im2Col=29 Gather=30 GatherV2=31 Im2Seq=32 InnerProduct=33 Input=34 Interp=35
Log=36 LRN=37 LSTM=38 MatMul=39 MoE=40 NonMaxSuppression=41 NonMaxSuppressionV2=42 Normalize=43 Pack=44
Padding=45 Permute=46 Pooling=47 Power=48 PReLU=49 PriorBox=50 Proposal=51 QuantizedAvgPool=52
QuantizedBiasAdd=53 QuantizedConcat=54 QuantizedDepthwiseConv2D=55 QuantizedLogistic=56 RasterAndInterpolate=57
QuantizedMaxPool=58 Texture=59 RasterDiff=60 QuantizedReshape=61 QuantizedSoftmax=62 QuantizeMaxMin=63
QuantizeV2=64 Range=65 Rank=66 ReduceJoin=67 Reduction=68 ReLU=69 ReLU6=70 RequantizationRange=71 Requantize=72
Reshape=73 Resize=74 RNN=75 ROIPooling=76 Scale=77 Selu=78 Seq2Out=79 Shape=80 Sigmoid=81 Size=82 Slice=83
SliceTf=84 Softmax=85 SpaceToBatchND=86 SpatialProduct=87 Col2Im=88 Segment=89 Squeeze=90 StridedSlice=91
CastLike=92 StringSplit=93 StringToNumber=94 TanH=95 TfQuantizedConv2D=96 Threshold=97 Tile=98 TopKV2=99
Transpose=100 UnaryOp=101 Unpack=102 Where=103 Moments=104 RNNSequenceGRU=105 BatchMatMul=106 Unsqueeze=107
CosineSimilarity=108 DepthToSpace=109 SpaceToDepth=110 ReverseSequence=111 Pooling3D=112 Convolution3D=113
MatrixBandPart=114 GatherND=115 DetectionPostProcess=116 UnravelIndex=117 ScatterNd=118 OneHot=119
BroadcastTo=120 Dilation2D=121 Interp3D=122 Raster=128 ConvertTensor=129 ArgMin=130 LinSpace=131
RandomUniform=132 TensorArray=133 TensorArraySize=134 TensorArrayRead=135 TensorArrayWrite=136
TensorArrayGather=137 TensorArrayScatter=138 TensorArraySplit=139 TensorArrayConcat=140 LSTMBlockCell=141
Reverse=142 ROIAlign=143 RandomNormal=144 TensorArrayInsert=145 TensorArrayErase=146 EyeLike=147 CumSum=148
Det=149 CumProd=150 ScatterElements=151 GatherElements=152 Svd=153 Histogram=154 DynamicQuant=155 Stft=156
Plugin=256 Select=257 ZerosLike=258 Broastcast=259 SetDiff1D=260 ReluGrad=261 Identity=262 PoolGrad=263
SoftmaxGrad=264 Conv2DBackPropFilter=265 TrainableParam=266 BatchNorm=267 ConvTranspose3D=268 ZeroGrad=269
Attention=299 FmhaV2=300 Fmhca=301 SeqLen2Spatial=302 SplitGeLU=303 GroupNorm=304 LinearAttention=305 RoPE=306
Extra=512 ConvInt8=513 Int8ToFloat=514 DepthwiseConvInt8=515 FloatToInt8=517 EltwiseInt8=518 While=600 If=601
LayerNorm=603 GridSample=604
""")

# Members of the OpParameter union (1-based; 0 = NONE).
PARAMS = _enum("""
QuantizedAdd=1 ArgMax=2 AsString=3 Axis=4 BatchNorm=5 BinaryOp=6 Blob=7 CastParam=8 Convolution2D=9 Crop=10
CropAndResize=11 Dequantize=12 DetectionOutput=13 Eltwise=14 ExpandDims=15 Fill=16 Flatten=17 Gather=18
GatherV2=19 InnerProduct=20 Input=21 Interp=22 LRN=23 LSTM=24 MatMul=25 NonMaxSuppressionV2=26 Normalize=27
PackParam=28 Permute=29 Plugin=30 Pool=31 PRelu=32 PriorBox=33 Proposal=34 QuantizedAvgPool=35
QuantizedBiasAdd=36 QuantizedConcat=37 QuantizedLogistic=38 QuantizedMatMul=39 QuantizedMaxPool=40
QuantizedRelu=41 QuantizedRelu6=42 QuantizedReshape=43 QuantizedSoftmax=44 QuantizeMaxMin=45 QuantizeV2=46
Range=47 Rank=48 ReduceJoin=49 ReductionParam=50 Relu=51 Relu6=52 RequantizationRange=53 Requantize=54
Reshape=55 Resize=56 RoiParameters=57 Scale=58 Selu=59 Size=60 Slice=61 SliceTf=62 SpaceBatch=63
SqueezeParam=64 StridedSliceParam=65 TensorConvertInfo=66 TfQuantizedConv2D=67 TopKV2=68 Transpose=69
UnaryOp=70 MomentsParam=71 RNNParam=72 BatchMatMulParam=73 QuantizedFloatParam=74 DepthSpaceParam=75
EltwiseInt8=76 ReverseSequenceParam=77 Extra=78 Pool3D=79 Convolution3D=80 ELU=81 DetectionPostProcessParam=82
OneHotParam=83 PadParam=84 WhileParam=85 IfParam=86 RandomUniform=87 LayerNorm=88 TensorArray=89
LSTMBlockCell=90 GridSample=91 LoopParam=92 ImageProcessParam=93 CumSum=94 GroupNorm=95 FmhaV2Param=96
FmhcaParam=97 AttentionParam=98 StftParam=99 LinearAttentionParam=100 ShapeParam=101 RoPEParam=102
""")

BINARY_OPS = _enum("""
ADD=0 SUB=1 MUL=2 DIV=3 MAX_TEMP=4 MIN_TEMP=5 POW=6 REALDIV=7 MINIMUM=8 MAXIMUM=9 GREATER=10 GREATER_EQUAL=11
LESS=12 FLOORDIV=13 SquaredDifference=14 EQUAL=15 LESS_EQUAL=16 FLOORMOD=17 MOD=19 ATAN2=20 LOGICALOR=21
NOTEQUAL=22 BITWISE_AND=23 BITWISE_OR=24 BITWISE_XOR=25 LOGICALXOR=26 LEFTSHIFT=27 RIGHTSHIFT=28 MUL_SILU=29
""")
UNARY_OPS = _enum("""
ABS=0 NEG=1 FLOOR=2 CEIL=3 SQUARE=4 SQRT=5 RSQRT=6 EXP=7 LOG=8 SIN=9 COS=10 TAN=11 ASIN=12 ACOS=13 ATAN=14
RECIPROCAL=15 LOG1P=16 BNLL=17 ACOSH=18 SINH=19 ASINH=20 ATANH=21 SIGN=22 ROUND=23 COSH=24 ERF=25 ERFC=26
ERFINV=27 EXPM1=28 SIGMOID=29 TANH=30 HARDSWISH=31 GELU=32 GELU_STANDARD=33 SILU=34
""")
REDUCTIONS = _enum("SUM=0 ASUM=1 SUMSQ=2 MEAN=3 MAXIMUM=4 MINIMUM=5 PROD=6 ANY=7 ALL=8")
ELTWISE = _enum("PROD=0 SUM=1 MAXIMUM=2 SUB=3")
CTM = _enum("""NotSet=0 AlignCorners=1 HalfPixels=2 PytorchHalfPixels=3 Asymmetric=4 TensorflowHalfPixels=5
TensorflowCropAndResize=6""")
DATA_FORMATS = _enum("NCHW=0 NHWC=1 NC4HW4=2 NHWC4=3 UNKNOWN=4")
NET_SOURCES = _enum("CAFFE=0 TENSORFLOW=1 TFLITE=2 ONNX=3 TORCH=4")

# DataType -> numpy dtype name (None: no numpy equivalent, values left unread).
DATA_TYPES: Dict[int, Tuple[str, object]] = {
    0: ("DT_INVALID", None),
    1: ("DT_FLOAT", "float32"),
    2: ("DT_DOUBLE", "float64"),
    3: ("DT_INT32", "int32"),
    4: ("DT_UINT8", "uint8"),
    5: ("DT_INT16", "int16"),
    6: ("DT_INT8", "int8"),
    7: ("DT_STRING", None),
    8: ("DT_COMPLEX64", None),
    9: ("DT_INT64", "int64"),
    10: ("DT_BOOL", "bool"),
    11: ("DT_QINT8", "int8"),
    12: ("DT_QUINT8", "uint8"),
    13: ("DT_QINT32", "int32"),
    14: ("DT_BFLOAT16", "bfloat16"),
    15: ("DT_QINT16", "int16"),
    16: ("DT_QUINT16", "uint16"),
    17: ("DT_UINT16", "uint16"),
    18: ("DT_COMPLEX128", None),
    19: ("DT_HALF", "float16"),
    20: ("DT_RESOURCE", None),
    21: ("DT_VARIANT", None),
}

Field = Tuple[str, int, str, object]

# Slots of the top-level tables the loader walks.
NET = {
    "bizCode": 0,
    "extraTensorDescribe": 1,
    "extraInfo": 2,
    "oplists": 3,
    "outputName": 4,
    "preferForwardType": 5,
    "sourceType": 6,
    "tensorName": 7,
    "tensorNumber": 8,
    "usage": 9,
    "subgraphs": 10,
    "mnn_uuid": 11,
}
OP = {
    "inputIndexes": 0,
    "main_type": 1,
    "main": 2,
    "name": 3,
    "outputIndexes": 4,
    "type": 5,
    "defaultDimentionFormat": 6,
    "externalPath": 7,
}
EXTRA_INFO = {"buffer": 0, "name": 1, "version": 2}
SUBGRAPH = {"name": 0, "inputs": 1, "outputs": 2, "tensors": 3, "nodes": 4}
# Blob: the payload vectors by slot.
BLOB = {
    "dims": 0,
    "dataFormat": 1,
    "dataType": 2,
    "uint8s": 3,
    "int8s": 4,
    "int32s": 5,
    "int64s": 6,
    "float32s": 7,
    "strings": 8,
    "external": 9,
}
CONV2D = {
    "common": 0,
    "weight": 1,
    "bias": 2,
    "quanParameter": 3,
    "symmetricQuan": 4,
    "sparseParameter": 5,
    "external": 6,
}
IDSTQUAN = {"buffer": 0, "alpha": 1, "type": 2, "useInt32": 3, "aMaxOrBits": 7, "readType": 9, "weightSize": 12}

# Small parameter tables, decoded whole into a dict of MNN field names.
TABLES: Dict[str, List[Field]] = {
    "Axis": [("axis", 0, "i32", 0)],
    "ArgMax": [("outMaxVal", 0, "i32", 0), ("topK", 1, "i32", 0), ("axis", 2, "i32", 0)],
    "BinaryOp": [("opType", 0, "i32", 0), ("T", 1, "i32", 1), ("activationType", 2, "i32", 0)],
    "UnaryOp": [("opType", 0, "i32", 0), ("T", 1, "i32", 0)],
    "CastParam": [("srcT", 0, "i32", 0), ("dstT", 1, "i32", 0)],
    "Convolution2DCommon": [
        ("padX", 0, "i32", 0),
        ("padY", 1, "i32", 0),
        ("kernelX", 2, "i32", 1),
        ("kernelY", 3, "i32", 1),
        ("strideX", 4, "i32", 1),
        ("strideY", 5, "i32", 1),
        ("dilateX", 6, "i32", 1),
        ("dilateY", 7, "i32", 1),
        ("padMode", 8, "i8", 0),
        ("group", 9, "i32", 1),
        ("outputCount", 10, "i32", 0),
        ("inputCount", 11, "i32", 0),
        ("relu", 12, "bool", False),
        ("relu6", 13, "bool", False),
        ("pads", 14, "[i32]", ()),
        ("outPads", 15, "[i32]", ()),
        ("hasOutputShape", 16, "bool", False),
    ],
    "Convolution3DCommon": [
        ("dilates", 0, "[i32]", ()),
        ("strides", 1, "[i32]", ()),
        ("kernels", 2, "[i32]", ()),
        ("pads", 3, "[i32]", ()),
        ("padMode", 4, "i8", 0),
        ("inputCount", 5, "i32", 0),
        ("outputCount", 6, "i32", 0),
        ("relu", 7, "bool", False),
        ("relu6", 8, "bool", False),
        ("group", 9, "i32", 1),
    ],
    "Eltwise": [("type", 0, "i8", 0), ("coeff", 1, "[f32]", ())],
    "Flatten": [("axis", 0, "i32", 0), ("endAxis", 1, "i32", 0)],
    "Gather": [("axis", 3, "i32", 0)],
    "InnerProduct": [
        ("outputCount", 0, "i32", 0),
        ("biasTerm", 1, "i32", 0),
        ("weightSize", 2, "i32", 0),
        ("axis", 5, "i32", 0),
        ("transpose", 6, "bool", False),
    ],
    "Input": [("dims", 0, "[i32]", ()), ("dtype", 1, "i32", 1), ("dformat", 2, "i8", 2)],
    "Interp": [
        ("widthScale", 0, "f32", 0.0),
        ("heightScale", 1, "f32", 0.0),
        ("outputWidth", 2, "i32", 0),
        ("outputHeight", 3, "i32", 0),
        ("resizeType", 4, "i32", 0),
        ("alignCorners", 5, "bool", False),
        ("halfPixelCenters", 6, "bool", False),
        ("widthOffset", 7, "f32", 0.0),
        ("heightOffset", 8, "f32", 0.0),
        ("cubicCoeffA", 9, "f32", -0.75),
        ("ctm", 10, "i8", 0),
        ("depthScale", 11, "f32", 0.0),
        ("outputDepth", 12, "i32", 0),
        ("depthOffset", 13, "f32", 0.0),
    ],
    "MatMul": [("T", 0, "i32", 0), ("transposeA", 1, "bool", False), ("transposeB", 2, "bool", False)],
    "BatchMatMulParam": [("adjX", 0, "bool", False), ("adjY", 1, "bool", False)],
    "Permute": [("dims", 0, "[i32]", ())],
    "Pool": [
        ("padX", 0, "i32", 0),
        ("padY", 1, "i32", 0),
        ("isGlobal", 2, "bool", False),
        ("kernelX", 3, "i32", 0),
        ("kernelY", 4, "i32", 0),
        ("strideX", 5, "i32", 0),
        ("strideY", 6, "i32", 0),
        ("type", 7, "i8", 0),
        ("padType", 8, "i8", 0),
        ("ceilModel", 10, "bool", True),
        ("pads", 11, "[i32]", ()),
        ("countType", 12, "i8", 0),
    ],
    "Pool3D": [
        ("strides", 0, "[i32]", ()),
        ("kernels", 1, "[i32]", ()),
        ("pads", 2, "[i32]", ()),
        ("type", 3, "i8", 0),
        ("padType", 4, "i8", 0),
        ("isGlobal", 5, "bool", False),
    ],
    "ReductionParam": [
        ("operation", 0, "i8", 0),
        ("dim", 1, "[i32]", ()),
        ("coeff", 2, "f32", 0.0),
        ("keepDims", 3, "bool", False),
    ],
    "Reshape": [("dims", 0, "[i32]", ()), ("dimType", 1, "i8", 0)],
    "SqueezeParam": [("squeezeDims", 0, "[i32]", ())],
    "StridedSliceParam": [
        ("beginMask", 2, "i32", 0),
        ("endMask", 3, "i32", 0),
        ("ellipsisMask", 4, "i32", 0),
        ("newAxisMask", 5, "i32", 0),
        ("shrinkAxisMask", 6, "i32", 0),
        ("fromType", 7, "i32", 0),
    ],
    "TensorConvertInfo": [("source", 0, "i8", 0), ("dest", 1, "i8", 0)],
    "TopKV2": [("T", 0, "i32", 1), ("sorted", 1, "bool", False), ("largest", 2, "bool", True)],
    "LayerNorm": [
        ("axis", 0, "[i32]", ()),
        ("epsilon", 1, "f32", 0.0),
        ("group", 4, "i32", 1),
        ("useRMSNorm", 6, "bool", False),
    ],
    "GroupNorm": [("axis", 0, "i32", 0), ("epsilon", 1, "f32", 0.0), ("group", 4, "i32", 1), ("bSwish", 5, "i32", 0)],
    "BatchNorm": [("channels", 0, "i32", 0), ("epsilon", 7, "f32", 0.001)],
    "GridSample": [
        ("mode", 0, "i8", 0),
        ("paddingMode", 1, "i8", 0),
        ("alignCorners", 2, "bool", False),
        ("backward", 3, "bool", False),
    ],
    "CumSum": [("exclusive", 0, "bool", False), ("reverse", 1, "bool", False)],
    "RoiParameters": [
        ("pooledWidth", 0, "i32", 0),
        ("pooledHeight", 1, "i32", 0),
        ("spatialScale", 2, "f32", 0.0),
        ("samplingRatio", 3, "i32", -1),
        ("aligned", 4, "bool", False),
        ("poolType", 5, "i8", 1),
    ],
    "AttentionParam": [("kv_cache", 0, "bool", True), ("attnScale", 6, "f32", 0.0)],
    "Relu": [("slope", 0, "f32", 0.0)],
    "Relu6": [("minValue", 0, "f32", 0.0), ("maxValue", 1, "f32", 6.0)],
    "ELU": [("alpha", 0, "f32", 0.0)],
    "Selu": [("scale", 0, "f32", 0.0), ("alpha", 1, "f32", 0.0)],
    "PadParam": [("mode", 0, "i8", 0)],
    "ExpandDims": [("axis", 2, "i32", 0)],
    "DepthSpaceParam": [("blockSize", 0, "i32", 0), ("mode", 1, "i8", 0)],
    "Resize": [("xScale", 0, "f32", 0.0), ("yScale", 1, "f32", 0.0)],
    "Normalize": [("acrossSpatial", 0, "i32", 0), ("channelShared", 1, "i32", 0), ("eps", 2, "f32", 0.0)],
    "LRN": [
        ("regionType", 0, "i32", 0),
        ("localSize", 1, "i32", 0),
        ("alpha", 2, "f32", 0.0),
        ("beta", 3, "f32", 0.0),
        ("bias", 4, "f32", 1.0),
    ],
    "OneHotParam": [("dType", 0, "i32", 1), ("axis", 1, "i32", -1)],
    "PackParam": [("dataType", 0, "i32", 0), ("axis", 1, "i32", 0)],
    "Slice": [("axis", 0, "i32", 0), ("slicePoints", 1, "[i32]", ())],
    "Scale": [("channels", 0, "i32", 0)],
    "PRelu": [("slopeCount", 0, "i32", 0)],
    "MomentsParam": [("dim", 0, "[i32]", ()), ("keepDims", 1, "bool", True)],
    "ShapeParam": [
        ("hasStart", 0, "bool", False),
        ("start", 1, "i32", 0),
        ("hasEnd", 2, "bool", False),
        ("end", 3, "i32", 0),
    ],
    "WhileParam": [("cond_graph", 0, "str", None), ("body_graph", 1, "str", None)],
    "IfParam": [("then_graph", 0, "str", None), ("else_graph", 1, "str", None)],
    "Extra": [("type", 0, "str", None), ("engine", 1, "str", None)],
    "Plugin": [("type", 0, "str", None)],
    "RandomUniform": [
        ("seed", 0, "i32", 0),
        ("seed2", 1, "i32", 0),
        ("type", 2, "i32", 1),
        ("low", 3, "f32", 0.0),
        ("high", 4, "f32", 1.0),
    ],
    "CropAndResize": [("extrapolationValue", 0, "f32", 0.0), ("method", 1, "i8", 0)],
    "RoPEParam": [("num_head", 1, "i32", 0), ("kv_num_head", 2, "i32", 0), ("head_dim", 3, "i32", 0)],
}
