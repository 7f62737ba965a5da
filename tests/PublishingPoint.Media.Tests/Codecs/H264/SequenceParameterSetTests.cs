using PublishingPoint.Media.Codecs.H264;

namespace PublishingPoint.Media.Tests.Codecs.H264;

public class SequenceParameterSetTests
{
    // Smooth Streaming sample: High 4:4:4 Predictive, 640x360, 25 fps VUI timing.
    internal const string SmoothSps = "67F4001E919B281405FF1380880000030008000003019078B16CB0";

    // x264 1920x1080 High 4:2:0 (coded 1088 lines, bottom crop 8); JVT scaling matrix flag set.
    internal const string FullHdSps = "67640028acd940780227e5c04400000300040000030" + "0f03c60c658";

    // x264 1280x720 High 10 (yuv420p10le).
    internal const string High10Sps = "676e001fa6cd9405005bb01100000300010000030" + "03c0f183196";

    [Fact]
    public void ParsesHigh444SpsWithTiming()
    {
        var sps = SequenceParameterSet.Parse(Convert.FromHexString(SmoothSps));
        Assert.Equal(244, sps.ProfileIdc);
        Assert.Equal(0, sps.ConstraintFlags);
        Assert.Equal(30, sps.LevelIdc);
        Assert.Equal(3, sps.ChromaFormatIdc);
        Assert.Equal(8, sps.BitDepthLuma);
        Assert.Equal(640, sps.Width);
        Assert.Equal(360, sps.Height);
        Assert.True(sps.FrameMbsOnly);
        Assert.True(sps.HasTimingInfo);
        Assert.Equal(50u, sps.TimeScale / sps.NumUnitsInTick); // two ticks per frame at 25 fps
        Assert.Equal(1, sps.SarWidth);
        Assert.Equal(1, sps.SarHeight);
    }

    [Fact]
    public void AppliesFrameCropping()
    {
        var sps = SequenceParameterSet.Parse(Convert.FromHexString(FullHdSps));
        Assert.Equal(100, sps.ProfileIdc);
        Assert.Equal(40, sps.LevelIdc);
        Assert.Equal(1, sps.ChromaFormatIdc);
        Assert.Equal(1920, sps.Width);
        Assert.Equal(1080, sps.Height);
    }

    [Fact]
    public void ParsesHigh10BitDepth()
    {
        var sps = SequenceParameterSet.Parse(Convert.FromHexString(High10Sps));
        Assert.Equal(110, sps.ProfileIdc);
        Assert.Equal(10, sps.BitDepthLuma);
        Assert.Equal(10, sps.BitDepthChroma);
        Assert.Equal(1280, sps.Width);
        Assert.Equal(720, sps.Height);
    }

    [Fact]
    public void ParsesHandBuiltBaselineSps()
    {
        // Hand-built Baseline (66) SPS, level 3.0, 176x144 (11x9 macroblocks), no VUI:
        // sps_id ue 0 '1', log2_max_frame_num-4 ue 0 '1', poc_type ue 2 '011', max_ref ue 1 '010', gaps '0',
        // width-1 ue 10 '0001011', height-1 ue 8 '0001001', frame_mbs_only '1', direct8x8 '1', crop '0', vui '0', stop '1'
        // = 11011010 00001011 00010011 1001(0000)
        byte[] nal = [0x67, 66, 0xC0, 30, 0b1101_1010, 0b0000_1011, 0b0001_0011, 0b1001_0000];
        var sps = SequenceParameterSet.Parse(nal);
        Assert.Equal(66, sps.ProfileIdc);
        Assert.Equal(0xC0, sps.ConstraintFlags);
        Assert.Equal(176, sps.Width);
        Assert.Equal(144, sps.Height);
        Assert.False(sps.HasTimingInfo);
    }

    [Fact]
    public void RejectsANonSpsNalUnit()
    {
        Assert.Throws<InvalidDataException>(() => SequenceParameterSet.Parse([0x68, 0xEB, 0xEC, 0x44]));
    }
}
