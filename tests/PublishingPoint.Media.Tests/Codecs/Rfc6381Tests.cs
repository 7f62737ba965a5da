using PublishingPoint.Media.Codecs;
using PublishingPoint.Media.Codecs.Aac;

namespace PublishingPoint.Media.Tests.Codecs;

public class Rfc6381Tests
{
    [Theory]
    [InlineData(0x64, 0x00, 0x1F, "avc1.64001f")]
    [InlineData(0xF4, 0x00, 0x1E, "avc1.f4001e")]
    [InlineData(0x42, 0xE0, 0x0A, "avc1.42e00a")]
    public void FormatsAvcAsThreeHexBytes(int profile, int constraints, int level, string expected)
    {
        Assert.Equal(expected, Rfc6381.ForAvc((byte)profile, (byte)constraints, (byte)level));
    }

    [Fact]
    public void FormatsAacWithTheObjectType()
    {
        Assert.Equal("mp4a.40.2", Rfc6381.ForAac(AudioSpecificConfig.FromCodecPrivateData("1190")));
    }
}
