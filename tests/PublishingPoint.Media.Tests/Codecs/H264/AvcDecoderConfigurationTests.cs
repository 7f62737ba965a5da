using PublishingPoint.Media.Codecs.H264;

namespace PublishingPoint.Media.Tests.Codecs.H264;

public class AvcDecoderConfigurationTests
{
    internal const string SmoothCodecPrivateData =
        "0000000167F4001E919B281405FF1380880000030008000003019078B16CB00000000168EBEC448440";

    // x264 1080p High avcC, including the trailing high-profile extension bytes (fd f8 f8 00).
    internal const string FullHdAvcC =
        "01640028ffe1001b" + SequenceParameterSetTests.FullHdSps + "01000768ebe3cb3002c0" + "fdf8f800";

    [Fact]
    public void ParsesAvccRecord()
    {
        var config = AvcDecoderConfiguration.Parse(Convert.FromHexString(FullHdAvcC));
        Assert.Equal(0x64, config.ProfileIndication);
        Assert.Equal(0x00, config.ProfileCompatibility);
        Assert.Equal(0x28, config.LevelIndication);
        Assert.Equal(4, config.NalLengthSize);
        Assert.Single(config.SequenceParameterSets);
        Assert.Single(config.PictureParameterSets);
        Assert.Equal(Convert.FromHexString(SequenceParameterSetTests.FullHdSps), config.SequenceParameterSets[0].ToArray());
        Assert.Equal(Convert.FromHexString("68ebe3cb3002c0"), config.PictureParameterSets[0].ToArray());
        Assert.Equal(1920, config.Width);
        Assert.Equal(1080, config.Height);
        Assert.Equal("avc1.640028", config.CodecString);
    }

    [Fact]
    public void ReadsNalLengthSizeFromTheLowTwoBits()
    {
        var record = Convert.FromHexString(FullHdAvcC);
        record[4] = 0xFD; // lengthSizeMinusOne = 1
        Assert.Equal(2, AvcDecoderConfiguration.Parse(record).NalLengthSize);
    }

    [Fact]
    public void BuildsFromSmoothStreamingCodecPrivateData()
    {
        var config = AvcDecoderConfiguration.FromCodecPrivateData(SmoothCodecPrivateData);
        Assert.Equal(244, config.ProfileIndication);
        Assert.Equal(30, config.LevelIndication);
        Assert.Equal(4, config.NalLengthSize);
        Assert.Equal(Convert.FromHexString(SequenceParameterSetTests.SmoothSps), config.SequenceParameterSets[0].ToArray());
        Assert.Equal(Convert.FromHexString("68EBEC448440"), config.PictureParameterSets[0].ToArray());
        Assert.Equal(640, config.Width);
        Assert.Equal(360, config.Height);
        Assert.Equal("avc1.f4001e", config.CodecString);
    }

    [Fact]
    public void WritesTheRecordItReadMinusTheExtension()
    {
        var source = Convert.FromHexString(FullHdAvcC);
        var config = AvcDecoderConfiguration.Parse(source);
        var buffer = new byte[config.GetRecordLength() + 3];
        Array.Fill(buffer, (byte)0xFF);

        var written = config.Write(buffer);

        Assert.Equal(source.Length - 4, written);
        Assert.Equal(source[..^4], buffer[..written]);
        Assert.Equal([0xFF, 0xFF, 0xFF], buffer[written..]);
    }

    [Fact]
    public void RejectsTruncatedRecords()
    {
        var record = Convert.FromHexString(FullHdAvcC)[..20];
        Assert.Throws<InvalidDataException>(() => AvcDecoderConfiguration.Parse(record));
        Assert.Throws<InvalidDataException>(() => AvcDecoderConfiguration.Parse([0x01, 0x64, 0x00]));
    }

    [Fact]
    public void RequiresBothParameterSets()
    {
        Assert.Throws<InvalidDataException>(
            () => AvcDecoderConfiguration.FromCodecPrivateData("00000001" + SequenceParameterSetTests.SmoothSps));
    }
}
