using PublishingPoint.Media.Codecs.Aac;
using PublishingPoint.Media.IsoBmff;
using PublishingPoint.Media.Tests.MpegTs;

namespace PublishingPoint.Media.Tests.IsoBmff;

public class MovieWriterTests
{
    private static readonly MovieTrack Video = new()
    {
        TrackId = 1,
        Timescale = 90_000,
        Avc = SyntheticStream.Video,
        AverageBitrate = 1_500_000,
        Language = "eng",
    };

    private static readonly MovieTrack Audio = new()
    {
        TrackId = 2,
        Timescale = 48_000,
        Aac = SyntheticStream.Audio,
        AverageBitrate = 128_000,
    };

    [Fact]
    public void TwoTracksReadBackThroughMovieReader()
    {
        var length = MovieWriter.GetLength([Video, Audio]);
        var buffer = new byte[length + 10];
        Array.Fill(buffer, (byte)0xFF);
        var written = MovieWriter.Write(buffer, [Video, Audio]);
        Assert.Equal(length, written);
        Assert.All(buffer[length..], b => Assert.Equal(0xFF, b));

        var top = new BoxReader(buffer.AsSpan(0, length));
        Assert.True(top.TryNext());
        Assert.Equal(BoxTypes.Ftyp, top.Header.Type);
        Assert.True(top.TryNext());
        Assert.Equal(BoxTypes.Moov, top.Header.Type);
        var moov = buffer.AsMemory(top.Offset, (int)top.Header.Size);
        Assert.False(top.TryNext());

        var tracks = MovieReader.Read(moov);
        Assert.Equal(2, tracks.Count);

        var video = tracks[0];
        Assert.Equal(1u, video.TrackId);
        Assert.Equal(TrackKind.Video, video.Kind);
        Assert.Equal(90_000u, video.Timescale);
        Assert.Equal(BoxTypes.Avc1, video.SampleEntry);
        Assert.Equal(SyntheticStream.Video.Width, video.Width);
        Assert.Equal(SyntheticStream.Video.Height, video.Height);
        Assert.Equal(1_500_000, video.AverageBitrate);
        Assert.Equal("eng", video.Language);
        var avcC = new byte[SyntheticStream.Video.GetRecordLength()];
        SyntheticStream.Video.Write(avcC);
        Assert.Equal(avcC, video.DecoderConfig);

        var audio = tracks[1];
        Assert.Equal(2u, audio.TrackId);
        Assert.Equal(TrackKind.Audio, audio.Kind);
        Assert.Equal(48_000u, audio.Timescale);
        Assert.Equal(BoxTypes.Mp4a, audio.SampleEntry);
        Assert.Equal(SyntheticStream.Audio.ChannelCount, audio.Channels);
        Assert.Equal(48_000, audio.SampleRate);
        Assert.Equal(16, audio.SampleSize);
        Assert.Equal(128_000, audio.AverageBitrate);
        Assert.Equal("und", audio.Language);
        Assert.Equal(SyntheticStream.Audio.Bytes.ToArray(), audio.DecoderConfig);
        Assert.Equal(default, audio.Defaults);
    }

    [Fact]
    public void WithoutBitrateThereIsNoBtrtAndTheInitSegmentWriterCanReuseTheTrak()
    {
        var video = Video with { AverageBitrate = 0 };
        var bytes = MovieWriter.Write(video);
        var moov = bytes.AsMemory(MovieWriter.FtypLength);
        var track = Assert.Single(MovieReader.Read(moov));
        Assert.Equal(0, track.AverageBitrate);
        Assert.Equal(-1, bytes.AsSpan().IndexOf("btrt"u8));

        var rebuilt = InitSegmentWriter.Write(moov.Span, track);
        var again = Assert.Single(MovieReader.Read(rebuilt.AsMemory(rebuilt.Length - moov.Length)));
        Assert.Equal(track.DecoderConfig, again.DecoderConfig);
    }

    [Fact]
    public void LongAudioSpecificConfigAndExplicitFieldsAreWritten()
    {
        // HE-AAC explicit signalling, 5 bytes
        var asc = AudioSpecificConfig.Parse(Convert.FromHexString("2B920800"));
        var track = new MovieTrack { TrackId = 7, Timescale = 44_100, Aac = asc, Channels = 6, SampleRate = 44_100 };
        var bytes = MovieWriter.Write(track);
        var read = Assert.Single(MovieReader.Read(bytes.AsMemory(MovieWriter.FtypLength)));
        Assert.Equal(7u, read.TrackId);
        Assert.Equal(6, read.Channels);
        Assert.Equal(44_100, read.SampleRate);
        Assert.Equal(asc.Bytes.ToArray(), read.DecoderConfig);
    }

    [Fact]
    public void ATrackWithoutConfigurationIsRefused()
    {
        Assert.Throws<ArgumentException>(() => MovieWriter.Write(new MovieTrack { TrackId = 1, Timescale = 1000 }));
    }
}
