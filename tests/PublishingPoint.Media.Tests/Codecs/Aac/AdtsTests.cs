using PublishingPoint.Media.Codecs.Aac;

namespace PublishingPoint.Media.Tests.Codecs.Aac;

public class AdtsTests
{
    [Fact]
    public void WritesHeaderForLc48kStereo()
    {
        var asc = AudioSpecificConfig.FromCodecPrivateData("1190");
        var buffer = new byte[9];
        Array.Fill(buffer, (byte)0xFF);

        Adts.WriteHeader(buffer, asc, 371);

        // frame_length 378 = 0b0_0001_0111_1010; profile 1 (LC), index 3, channels 2.
        Assert.Equal(new byte[] { 0xFF, 0xF1, 0x4C, 0x80, 0x2F, 0x5F, 0xFC, 0xFF, 0xFF }, buffer);
    }

    [Fact]
    public void EncodesTheFieldsAtTheirBitPositions()
    {
        var asc = AudioSpecificConfig.FromCodecPrivateData("118856E500"); // LC 48 kHz mono
        Span<byte> h = stackalloc byte[Adts.HeaderLength];
        Adts.WriteHeader(h, asc, 8184);

        Assert.Equal(0xFFF, (h[0] << 4) | (h[1] >> 4));
        Assert.Equal(1, h[1] & 0x01); // protection_absent
        Assert.Equal(1, h[2] >> 6); // profile = AOT 2 - 1
        Assert.Equal(3, (h[2] >> 2) & 0x0F);
        Assert.Equal(1, ((h[2] & 0x01) << 2) | (h[3] >> 6));
        Assert.Equal(Adts.MaxFrameLength, ((h[3] & 0x03) << 11) | (h[4] << 3) | (h[5] >> 5));
        Assert.Equal(0x7FF, ((h[5] & 0x1F) << 6) | (h[6] >> 2));
        Assert.Equal(0, h[6] & 0x03);
    }

    [Fact]
    public void RejectsFramesTooLongFor13Bits()
    {
        var asc = AudioSpecificConfig.FromCodecPrivateData("1190");
        var buffer = new byte[7];
        Assert.Throws<ArgumentOutOfRangeException>(() => Adts.WriteHeader(buffer, asc, 8185));
    }

    [Fact]
    public void UsesTheCoreObjectTypeForExplicitHeAac()
    {
        var asc = AudioSpecificConfig.Parse([0x2B, 0x11, 0x88, 0x00]); // AOT 5 over AAC-LC 24 kHz
        var template = Adts.Prepare(asc);
        Assert.Equal(new AdtsHeaderTemplate(1, 6, 2), template);
    }

    [Theory]
    [InlineData("11C0", "channel configuration 8")] // AAC-LC 48 kHz, channel configuration 8 (reserved before 22.2)
    [InlineData("B99000", "audio object type 23")] // AAC LD: an object type past AAC LTP
    public void SaysWhyItCannotCarryAConfiguration(string codecPrivateData, string reason)
    {
        var asc = AudioSpecificConfig.FromCodecPrivateData(codecPrivateData);
        Assert.False(Adts.TryPrepare(asc, out _, out var why));
        Assert.Contains(reason, why, StringComparison.Ordinal);
        Assert.Throws<NotSupportedException>(() => Adts.Prepare(asc));
        Assert.True(Adts.TryPrepare(AudioSpecificConfig.FromCodecPrivateData("1190"), out var header, out var none));
        Assert.Null(none);
        Assert.Equal(new AdtsHeaderTemplate(1, 3, 2), header);
    }
}
