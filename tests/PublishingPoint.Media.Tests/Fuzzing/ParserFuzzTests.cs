namespace PublishingPoint.Media.Tests.Fuzzing;

/// <summary>
/// Mutated ffmpeg output through every parser: each case ends in success or a clean refusal, and quickly.
/// CI runs a few thousand cases per family; PP_FUZZ_ITERATIONS=1000000 runs as many as you like.
/// </summary>
public sealed class ParserFuzzTests
{
    [Fact]
    public void SmoothIsmvMutants_AreReadOrRefusedCleanly() =>
        FuzzRunner.Run("ismv", SeedKind.Fmp4, 1, FuzzRunner.Iterations(3000), [FuzzSeeds.Instance.Ismv], ParserDriver.Fmp4);

    [Fact]
    public void CmafMutants_AreReadOrRefusedCleanly() =>
        FuzzRunner.Run("cmaf", SeedKind.Fmp4, 2, FuzzRunner.Iterations(3000), [FuzzSeeds.Instance.Cmaf, FuzzSeeds.Instance.CmafChunked], ParserDriver.Fmp4);

    [Fact]
    public void MpegTsMutants_AreDemuxedOrRefusedCleanly() =>
        FuzzRunner.Run("ts", SeedKind.Ts, 3, FuzzRunner.Iterations(1500), [FuzzSeeds.Instance.Ts], ParserDriver.Ts);

    [Fact]
    public void SmilMutants_AreReadOrRefusedCleanly() =>
        FuzzRunner.Run("smil", SeedKind.Smil, 4, FuzzRunner.Iterations(3000), [FuzzSeeds.Instance.Smil], ParserDriver.Smil);
}
