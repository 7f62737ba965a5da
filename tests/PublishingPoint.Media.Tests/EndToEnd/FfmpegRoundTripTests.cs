using System.Buffers;
using System.Globalization;
using System.Text.Json;
using PublishingPoint.Media.MpegTs;
using PublishingPoint.Tests.Shared;

namespace PublishingPoint.Media.Tests.EndToEnd;

/// <summary>Muxes real ffmpeg output into two segments and has ffprobe/ffmpeg decode the result.</summary>
public sealed class FfmpegRoundTripTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("pp-ts-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void FfmpegDecodesTheSegmentsWithTheTimestampsWeWrote(bool aligned)
    {
        var source = FfmpegSource.Generate(_directory);
        Assert.Equal(100, source.Video.Count);
        Assert.Equal(320, source.VideoConfig.Width);
        Assert.Equal(240, source.VideoConfig.Height);
        Assert.Equal("mp4a.40.2", source.AudioConfig.CodecString);

        // Two segments split at the keyframe at 2 s; audio split at the same presentation time.
        var split = source.Video.FindIndex(s => s.IsKeyframe && s.Pts90k >= FfmpegSource.BaseTime90k + 180_000);
        var splitTime = source.Video[split].Pts90k;
        var audioSplit = source.Audio.FindIndex(s => s.Pts90k >= splitTime);
        TsSample[] video = [.. source.Video];
        TsSample[] audio = [.. source.Audio];

        var writer = new TsSegmentWriter(source.VideoConfig, source.AudioConfig, new TsMuxerOptions { AlignContinuityCounters = aligned });
        var output = new ArrayBufferWriter<byte>();
        var sequential = new TsContinuityCounters();
        writer.WriteSegment(video.AsSpan(0, split), audio.AsSpan(0, audioSplit), aligned ? TsContinuityCounters.ForAlignedSegment(0) : sequential, output);
        var firstLength = output.WrittenCount;
        writer.WriteSegment(video.AsSpan(split), audio.AsSpan(audioSplit), aligned ? TsContinuityCounters.ForAlignedSegment(1) : sequential, output);

        var both = Path.Combine(_directory, "both.ts");
        var second = Path.Combine(_directory, "second.ts");
        File.WriteAllBytes(both, output.WrittenSpan.ToArray());
        File.WriteAllBytes(second, output.WrittenSpan[firstLength..].ToArray());

        // Our own checker: sync, PSI first, CRCs, CC continuity across the segment boundary.
        var reader = new TsPacketReader();
        reader.Read(output.WrittenSpan[..firstLength]);
        reader.Read(output.WrittenSpan[firstLength..]);
        Assert.Equal(video.Length, reader.Pes.Count(p => p.Pid == TsConstants.VideoPid));

        // Decodes with no errors at all, whole and from the second segment on.
        Assert.Equal(string.Empty, ExternalTool.Run("ffmpeg", "-v", "error", "-i", both, "-f", "null", "-").StdErr);
        Assert.Equal(string.Empty, ExternalTool.Run("ffmpeg", "-v", "error", "-i", second, "-f", "null", "-").StdErr);

        var (streamsJson, streamsErr) = ExternalTool.Run("ffprobe", "-v", "error", "-show_streams", "-count_frames", "-of", "json", both);
        Assert.Equal(string.Empty, streamsErr);
        using var streams = JsonDocument.Parse(streamsJson);
        var byType = streams.RootElement.GetProperty("streams").EnumerateArray()
            .ToDictionary(s => s.GetProperty("codec_type").GetString()!);
        Assert.Equal(2, byType.Count);
        Assert.Equal("h264", byType["video"].GetProperty("codec_name").GetString());
        Assert.Equal(320, byType["video"].GetProperty("width").GetInt32());
        Assert.Equal(240, byType["video"].GetProperty("height").GetInt32());
        Assert.Equal(video.Length, int.Parse(byType["video"].GetProperty("nb_read_frames").GetString()!, CultureInfo.InvariantCulture));
        Assert.Equal("aac", byType["audio"].GetProperty("codec_name").GetString());
        Assert.Equal("48000", byType["audio"].GetProperty("sample_rate").GetString());
        Assert.Equal(1, byType["audio"].GetProperty("channels").GetInt32());
        Assert.Equal(audio.Length, int.Parse(byType["audio"].GetProperty("nb_read_frames").GetString()!, CultureInfo.InvariantCulture));

        // Every packet comes back with exactly the PTS/DTS we put in.
        var (packetsJson, _) = ExternalTool.Run("ffprobe", "-v", "error", "-show_packets", "-of", "json", both);
        using var packets = JsonDocument.Parse(packetsJson);
        var videoIndex = byType["video"].GetProperty("index").GetInt32();
        var got = packets.RootElement.GetProperty("packets").EnumerateArray().ToList();
        var gotVideo = got.Where(p => p.GetProperty("stream_index").GetInt32() == videoIndex).ToList();
        var gotAudio = got.Where(p => p.GetProperty("stream_index").GetInt32() != videoIndex).ToList();
        Assert.Equal(video.Select(s => s.Pts90k), gotVideo.Select(p => p.GetProperty("pts").GetInt64()));
        Assert.Equal(video.Select(s => s.Dts90k), gotVideo.Select(p => p.GetProperty("dts").GetInt64()));
        Assert.Equal(audio.Select(s => s.Pts90k), gotAudio.Select(p => p.GetProperty("pts").GetInt64()));
        Assert.Equal(video.Count(s => s.IsKeyframe), gotVideo.Count(p => p.GetProperty("flags").GetString()!.StartsWith('K')));
    }

    /// <summary>
    /// Timed ID3 (Apple's "Timed Metadata for HTTP Live Streaming"): ffprobe finds a timed_id3 data stream through
    /// the PMT's metadata descriptors and reads back each tag at the PTS we gave it; the continuity
    /// counters of the metadata PID stay unbroken across aligned segments, one of which carries no tag.
    /// </summary>
    [Fact]
    public void TimedId3Tags_ComeBackAsATimedId3StreamAtTheirTimes()
    {
        var source = FfmpegSource.Generate(_directory);
        var split = source.Video.FindIndex(s => s.IsKeyframe && s.Pts90k >= FfmpegSource.BaseTime90k + 180_000);
        var audioSplit = source.Audio.FindIndex(s => s.Pts90k >= source.Video[split].Pts90k);
        TsSample[] video = [.. source.Video];
        TsSample[] audio = [.. source.Audio];
        // ID3v2.4 with a TIT2 frame, "hi" then "ho".
        byte[][] tags = [Convert.FromHexString("4944330400000000000D54495432000000030000036869"), Convert.FromHexString("4944330400000000000D5449543200000003000003686F")];
        TsSample[] metadata =
        [
            new(FfmpegSource.BaseTime90k + 45_000, FfmpegSource.BaseTime90k + 45_000, true, tags[0]),
            new(FfmpegSource.BaseTime90k + 90_000, FfmpegSource.BaseTime90k + 90_000, true, tags[1]),
        ];

        var writer = new TsSegmentWriter(source.VideoConfig, source.AudioConfig, new TsMuxerOptions { AlignContinuityCounters = true, TimedId3 = true });
        var output = new ArrayBufferWriter<byte>();
        var first = writer.WriteSegment(video.AsSpan(0, split), audio.AsSpan(0, audioSplit), TsContinuityCounters.ForAlignedSegment(0), output, metadata);
        Assert.Equal(16, first.Metadata);
        var second = writer.WriteSegment(video.AsSpan(split), audio.AsSpan(audioSplit), TsContinuityCounters.ForAlignedSegment(1), output);
        Assert.Equal(0, second.Metadata);
        var both = Path.Combine(_directory, "id3.ts");
        File.WriteAllBytes(both, output.WrittenSpan.ToArray());

        var reader = new TsPacketReader();
        reader.Read(output.WrittenSpan);
        var tagPes = reader.Pes.Where(p => p.Pid == TsConstants.MetadataPid).ToList();
        Assert.Equal(tags.Select(Convert.ToHexString), tagPes.Select(p => Convert.ToHexString(p.Payload)));
        Assert.Equal(TsConstants.PrivateStream1Id, tagPes[0].StreamId);
        Assert.Equal(TsConstants.StreamTypeMetadataPes, reader.StreamTypes[TsConstants.MetadataPid]);
        Assert.Equal(string.Empty, ExternalTool.Run("ffmpeg", "-v", "error", "-i", both, "-map", "0:v", "-map", "0:a", "-f", "null", "-").StdErr);

        var (json, errors) = ExternalTool.Run("ffprobe", "-v", "error", "-show_streams", "-show_packets", "-show_data", "-select_streams", "d", "-of", "json", both);
        Assert.Equal(string.Empty, errors);
        using var probe = JsonDocument.Parse(json);
        var stream = Assert.Single(probe.RootElement.GetProperty("streams").EnumerateArray());
        Assert.Equal("timed_id3", stream.GetProperty("codec_name").GetString());
        var packets = probe.RootElement.GetProperty("packets").EnumerateArray().ToList();
        Assert.Equal(metadata.Select(m => m.Pts90k), packets.Select(p => p.GetProperty("pts").GetInt64()));
        // ffmpeg 5.1 (Debian 12) drops the first five bytes of every stream_type 0x15 PES, taking them for the metadata
        // AU cell header that only stream_id 0xFC carries; our own reader above checks the whole tag.
        Assert.All(tags.Zip(packets), t => Assert.EndsWith(Convert.ToHexString(t.First[5..]), HexDump(t.Second.GetProperty("data").GetString()!), StringComparison.Ordinal));
    }

    // ffprobe's -show_data: "00000000: 4944 3304 ...  ID3..." lines; the hex columns, joined.
    private static string HexDump(string data) =>
        string.Concat(data.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => line[10..49].Replace(" ", string.Empty, StringComparison.Ordinal))).ToUpperInvariant();
}
