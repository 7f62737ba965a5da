using PublishingPoint.Media.Codecs.Aac;

namespace PublishingPoint.Media.Tests.Codecs.Aac;

public class AdtsHeaderTests
{
    [Theory]
    [InlineData("1190", 48_000, 2)]
    [InlineData("1210", 44_100, 2)]
    [InlineData("1388", 22_050, 1)]
    public void ReadsWhatTheWriterWroteAndRebuildsTheConfig(string ascHex, int rate, int channels)
    {
        var asc = AudioSpecificConfig.FromCodecPrivateData(ascHex);
        var bytes = new byte[Adts.HeaderLength];
        Adts.WriteHeader(bytes, asc, 345);

        Assert.True(AdtsHeader.TryRead(bytes, out var header));
        Assert.Equal(352, header.FrameLength);
        Assert.Equal(345, header.RawLength);
        Assert.Equal(7, header.HeaderLength);
        Assert.False(header.HasCrc);
        Assert.Equal(0, header.RawDataBlocks);
        var rebuilt = header.ToAudioSpecificConfig();
        Assert.Equal(asc.Bytes.ToArray(), rebuilt.Bytes.ToArray());
        Assert.Equal(rate, rebuilt.SamplingFrequency);
        Assert.Equal(channels, rebuilt.ChannelCount);
    }

    [Fact]
    public void CrcAndBadHeaders()
    {
        // protection_absent 0: 9-byte header
        byte[] withCrc = [0xFF, 0xF0, 0x4C, 0x80, 0x20, 0x1F, 0xFC, 0x12, 0x34];
        Assert.True(AdtsHeader.TryRead(withCrc, out var header));
        Assert.True(header.HasCrc);
        Assert.Equal(9, header.HeaderLength);
        Assert.Equal(256, header.FrameLength);

        Assert.False(AdtsHeader.TryRead([0xFF, 0xF1, 0x4C], out _));            // too short
        Assert.False(AdtsHeader.TryRead([0xFF, 0xE1, 0x4C, 0x80, 0x20, 0x1F, 0xFC], out _)); // no syncword
        Assert.False(AdtsHeader.TryRead([0xFF, 0xF3, 0x4C, 0x80, 0x20, 0x1F, 0xFC], out _)); // layer != 0
        Assert.False(AdtsHeader.TryRead([0xFF, 0xF1, 0x7C, 0x80, 0x20, 0x1F, 0xFC], out _)); // frequency index 15
        Assert.False(AdtsHeader.TryRead([0xFF, 0xF1, 0x4C, 0x80, 0x00, 0x1F, 0xFC], out _)); // frame shorter than header
    }
}
