using System.Globalization;
using System.Text.Json;
using PublishingPoint.Media.Codecs.Aac;
using PublishingPoint.Media.Codecs.H264;
using PublishingPoint.Media.MpegTs;
using PublishingPoint.Media.Timing;

namespace PublishingPoint.Media.Tests.EndToEnd;

/// <summary>
/// A 4 s H.264/AAC MP4 made by ffmpeg, read back through ffprobe -show_data: codec configs from the stream
/// extradata (avcC, AudioSpecificConfig) and every packet's bytes (AVCC access units, raw AAC frames).
/// Timestamps are moved 10 s up the timeline so the B-frame and priming offsets stay positive.
/// </summary>
internal sealed class FfmpegSource
{
    public const long BaseTime90k = 900_000;

    public required AvcDecoderConfiguration VideoConfig { get; init; }
    public required AudioSpecificConfig AudioConfig { get; init; }
    public required List<TsSample> Video { get; init; }
    public required List<TsSample> Audio { get; init; }

    public static FfmpegSource Generate(string directory)
    {
        var mp4 = Path.Combine(directory, "source.mp4");
        ExternalTool.Run(
            "ffmpeg", "-v", "error", "-y",
            "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
            "-f", "lavfi", "-i", "sine=sample_rate=48000",
            "-t", "4", "-pix_fmt", "yuv420p", "-c:v", "libx264", "-g", "25", "-bf", "2",
            "-c:a", "aac", "-ac", "1", "-f", "mp4", mp4);

        var (json, _) = ExternalTool.Run(
            "ffprobe", "-v", "error", "-show_streams", "-show_packets", "-show_data", "-of", "json", mp4);
        using var doc = JsonDocument.Parse(json);

        AvcDecoderConfiguration? videoConfig = null;
        AudioSpecificConfig? audioConfig = null;
        var timeBases = new Dictionary<int, long>();
        foreach (var stream in doc.RootElement.GetProperty("streams").EnumerateArray())
        {
            var index = stream.GetProperty("index").GetInt32();
            timeBases[index] = long.Parse(stream.GetProperty("time_base").GetString()!.Split('/')[1], CultureInfo.InvariantCulture);
            var extradata = ParseHexDump(stream.GetProperty("extradata").GetString()!);
            if (stream.GetProperty("codec_type").GetString() == "video")
            {
                videoConfig = AvcDecoderConfiguration.Parse(extradata);
            }
            else
            {
                audioConfig = AudioSpecificConfig.Parse(extradata);
            }
        }

        var video = new List<TsSample>();
        var audio = new List<TsSample>();
        foreach (var packet in doc.RootElement.GetProperty("packets").EnumerateArray())
        {
            var timescale = timeBases[packet.GetProperty("stream_index").GetInt32()];
            var pts = Timescale.To90k(packet.GetProperty("pts").GetInt64(), timescale) + BaseTime90k;
            var dts = Timescale.To90k(packet.GetProperty("dts").GetInt64(), timescale) + BaseTime90k;
            var key = packet.GetProperty("flags").GetString()!.StartsWith('K');
            var sample = new TsSample(dts, pts, key, ParseHexDump(packet.GetProperty("data").GetString()!));
            (packet.GetProperty("codec_type").GetString() == "video" ? video : audio).Add(sample);
        }

        return new FfmpegSource
        {
            VideoConfig = videoConfig ?? throw new InvalidDataException("no video stream"),
            AudioConfig = audioConfig ?? throw new InvalidDataException("no audio stream"),
            Video = video,
            Audio = audio,
        };
    }

    // ffprobe hex dump lines: "00000010: fb01 1000 0003 0010 0000 0303 20f1 4299  ascii"; hex lives in columns 10..48.
    private static byte[] ParseHexDump(string dump)
    {
        var bytes = new List<byte>();
        foreach (var line in dump.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var hex = line.Substring(10, Math.Min(39, line.Length - 10)).Replace(" ", "", StringComparison.Ordinal);
            bytes.AddRange(Convert.FromHexString(hex));
        }

        return [.. bytes];
    }
}
