namespace PublishingPoint.Media.Codecs.H264;

/// <summary>What <see cref="AnnexB"/> adds while converting an access unit.</summary>
/// <param name="InsertAud">Prepend an access unit delimiter unless the access unit starts with one.</param>
/// <param name="ParameterSets">
/// SPS/PPS to prepend to random-access access units (those holding an IDR slice, or all when
/// <paramref name="IsKeyframe"/> is set) that do not already carry both an SPS and a PPS.
/// </param>
/// <param name="IsKeyframe">Treat the access unit as a random access point even without an IDR slice.</param>
public readonly record struct AnnexBOptions(
    bool InsertAud = false,
    AvcDecoderConfiguration? ParameterSets = null,
    bool IsKeyframe = false);
