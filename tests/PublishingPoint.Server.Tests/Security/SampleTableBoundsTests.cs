using System.Buffers.Binary;
using System.Net;
using PublishingPoint.Server.Tests.Hls;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Security;

/// <summary>
/// A fragment's sample table takes 32 bytes a sample in memory, and a sample may be one byte: a fragment of a quarter of
/// a million 1-byte samples keeps 8 MB of table beside its 256 KB. The tables count against the same bounds as the
/// bytes: a connection's chunks gathered into a fragment (MaxIngestBytesPerConnection) and each track's newest fragment
/// (MaxMemoryWindowBytesPerPoint).
/// </summary>
public sealed class SampleTableBoundsTests
{
    [Fact]
    public async Task ChunksOfOneByteSamples_CountTheirTables_AgainstTheConnectionsBound()
    {
        await using var server = await RunningServer.StartAsync(null,
            "--PublishingPoint:MaxBoxBytes=1048576", "--PublishingPoint:MaxIngestBytesPerConnection=2097152");
        var (header, timescale) = await AudioHeaderAsync();

        // Two chunks of 0.83 s (gathered into one fragment): 40 KB of media and 1.28 MB of sample table each.
        var samples = timescale * 5 / 6;
        byte[] body = [.. header, .. Fragment(1, 0, samples), .. Fragment(2, samples, samples)];
        var (status, text) = await Posting.PostChunkedAsync(server.Http, "live/table.isml/Streams(a)", body);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        Assert.Contains("limit is 2097152", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ANewestFragmentOfOneByteSamples_CountsItsTable_AgainstThePointsBound()
    {
        await using var server = await RunningServer.StartAsync(null,
            "--PublishingPoint:FinalizeGraceSeconds=3600", "--PublishingPoint:MaxMemoryWindowBytesPerPoint=1000000", "--PublishingPoint:MaxMemoryWindowBytesPerServer=1000000");
        var (header, timescale) = await AudioHeaderAsync();

        // A 2 s fragment: 96 KB of media, 3 MB of sample table. Kept, the table alone is three times the bound.
        var samples = timescale * 2;
        var (status, text) = await Posting.PostChunkedAsync(server.Http, "live/table.isml/Streams(a)", [.. header, .. Fragment(1, 0, samples)]);
        Assert.True(status == HttpStatusCode.OK, text);

        Assert.Equal(0, (await DvrOnDiskTests.InMemoryAsync(server, "live/table.isml")).Bytes);
        var master = await server.Http.GetStringAsync(new Uri("live/table.isml/master-fmp4.m3u8", UriKind.Relative));
        var audio = HlsText.AudioOnlyVariant(master);
        var playlist = await server.Http.GetStringAsync(new Uri("live/table.isml/" + audio, UriKind.Relative));
        var first = HlsText.Segments(playlist)[0].Uri;
        using var segment = await server.Http.GetAsync(new Uri("live/table.isml/hls/" + first, UriKind.Relative));
        Assert.True(segment.StatusCode == HttpStatusCode.OK, $"{first}: {(int)segment.StatusCode} {await segment.Content.ReadAsStringAsync()}"); // read from the archive
        Assert.True((await segment.Content.ReadAsByteArrayAsync()).Length > samples, "the segment holds the fragment's samples");
    }

    [Fact]
    public async Task ARestartOverAnArchiveOfOneByteSamples_HoldsOneTableATrack_AndServesIt()
    {
        var data = TempDirectory.Create("pp-tables");
        var (header, _) = await AudioHeaderAsync();
        const int Samples = 1 << 18; // the most a fragment may hold: 8 MB of table each
        var body = new List<byte>(header);
        for (var i = 0; i < 24; i++)
        {
            body.AddRange(Fragment(i + 1, (long)i * Samples, Samples));
        }

        await using (var server = await RunningServer.StartAsync(data, "--PublishingPoint:MaxFragmentLeadSeconds=86400"))
        {
            var (status, text) = await Posting.PostChunkedAsync(server.Http, "live/table.isml/Streams(a)", [.. body]);
            Assert.True(status == HttpStatusCode.OK, text);
        }

        // The scan a restart makes: 24 fragments, the first with its whole table, the others with their first sample
        // (all of them whole were 200 MB here, and a file may hold 10,000).
        var file = Directory.GetFiles(Path.Combine(data, "live", "table.isml"), "*.ismv").Single();
        var scanned = PublishingPoint.Server.Archive.ArchiveScanner.Scan(file, 64L * 1024 * 1024)!;
        Assert.Equal(24, scanned.Fragments.Count);
        Assert.Equal(Samples, scanned.Fragments[0].Samples.Length);
        Assert.All(scanned.Fragments.Skip(1), f => Assert.Single(f.Samples));

        await using var restarted = await RunningServer.StartAsync(data);
        var master = await restarted.Http.GetStringAsync(new Uri("live/table.isml/master-fmp4.m3u8", UriKind.Relative));
        var audio = HlsText.AudioOnlyVariant(master);
        var segments = HlsText.Segments(await restarted.Http.GetStringAsync(new Uri("live/table.isml/" + audio, UriKind.Relative)));
        Assert.Equal(24, segments.Count);
        using var last = await restarted.Http.GetAsync(new Uri("live/table.isml/hls/" + segments[^1].Uri, UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, last.StatusCode);
        Assert.True((await last.Content.ReadAsByteArrayAsync()).Length > Samples, "the last segment holds its fragment's samples");
    }

    // ffmpeg's CMAF header for one AAC track (track 1), and the track's timescale (its mdhd).
    private static async Task<(byte[] Header, int Timescale)> AudioHeaderAsync()
    {
        var (header, _) = Boxes.SplitFragments(await IsmvCapture.AudioOnlyCmafAsync());
        var mdhd = header.AsSpan().IndexOf("mdhd"u8);
        Assert.True(mdhd > 0 && header[mdhd + 4] == 0, "a version 0 'mdhd'");
        return (header, BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(mdhd + 4 + 4 + 8)));
    }

    // moof (mfhd, traf: tfhd with default duration 1, size 1 and sync flags, tfdt, trun of `samples` with a data offset) + mdat.
    private static byte[] Fragment(int sequence, long time, int samples)
    {
        const int Tfhd = 8 + 4 + 4 + 4 + 4 + 4;
        const int Tfdt = 8 + 4 + 8;
        const int Trun = 8 + 4 + 4 + 4;
        const int Traf = 8 + Tfhd + Tfdt + Trun;
        const int Moof = 8 + 16 + Traf;
        var bytes = new byte[Moof + 8 + samples];
        var at = Boxes.WriteHeader(bytes, 0, Moof, "moof");
        at = Boxes.WriteHeader(bytes, at, 16, "mfhd");
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(at + 4), sequence);
        at = Boxes.WriteHeader(bytes, at + 8, Traf, "traf");
        at = Boxes.WriteHeader(bytes, at, Tfhd, "tfhd");
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(at), 0x020038); // default-base-is-moof, duration, size, flags
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(at + 4), 1); // track_ID
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(at + 8), 1);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(at + 12), 1);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(at + 16), 0x02000000); // sync
        at = Boxes.WriteHeader(bytes, at + 20, Tfdt, "tfdt");
        bytes[at] = 1;
        BinaryPrimitives.WriteInt64BigEndian(bytes.AsSpan(at + 4), time);
        at = Boxes.WriteHeader(bytes, at + 12, Trun, "trun");
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(at), 0x000001); // data-offset-present
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(at + 4), samples);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(at + 8), Moof + 8);
        Boxes.WriteHeader(bytes, Moof, 8 + samples, "mdat");
        return bytes;
    }
}
