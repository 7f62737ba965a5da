using PublishingPoint.Media.Tests.Codecs.H264;
using PublishingPoint.Media.IsoBmff;
using PublishingPoint.Media.Tracks;

namespace PublishingPoint.Media.Tests.Tracks;

public class TrackDescriptionTests
{
    [Theory]
    [InlineData(TrackKind.Video, AvcDecoderConfigurationTests.FullHdAvcC, "avc1.640028")]
    [InlineData(TrackKind.Audio, "1190", "mp4a.40.2")]
    public void DecoderConfigurationIsParsedOnceWithTheTrack(TrackKind kind, string configHex, string codecs)
    {
        var description = Describe(kind, Convert.FromHexString(configHex));

        Assert.Equal(codecs, description.Codecs, ignoreCase: true);
        Assert.Equal(kind == TrackKind.Video, description.Avc is not null);
        Assert.Equal(kind == TrackKind.Audio, description.Aac is not null);
        Assert.Same(description.Avc, description.Avc);
    }

    [Fact]
    public void AnUnreadableConfigurationLeavesTheTrackNamedButRefusesTheOutputsThatNeedIt()
    {
        var description = Describe(TrackKind.Video, [0x02, 0x00]);

        Assert.Null(description.Avc);
        Assert.Null(description.Codecs);
        Assert.Throws<InvalidDataException>(() => description.RequireAvc());
    }

    [Fact]
    public void ReplacingTheTrakReparsesTheConfiguration()
    {
        var audio = Describe(TrackKind.Audio, Convert.FromHexString("1190"));
        var changed = audio with { Info = audio.Info with { DecoderConfig = Convert.FromHexString("1210") } };

        Assert.Equal(48_000, audio.Aac!.SamplingFrequency);
        Assert.Equal(44_100, changed.Aac!.SamplingFrequency);
    }

    private static TrackDescription Describe(TrackKind kind, byte[] config) => new()
    {
        Key = new TrackKey(kind == TrackKind.Video ? "video" : "audio", 1000),
        Kind = kind,
        Timescale = 90_000,
        FourCC = kind == TrackKind.Video ? "H264" : "AACL",
        CodecPrivateData = Convert.ToHexString(config),
        Info = new TrackInfo
        {
            TrackId = 1,
            Kind = kind,
            Timescale = 90_000,
            SampleEntry = kind == TrackKind.Video ? FourCC.From("avc1") : FourCC.From("mp4a"),
            DecoderConfig = config,
            TrakBox = ReadOnlyMemory<byte>.Empty,
        },
    };
}
