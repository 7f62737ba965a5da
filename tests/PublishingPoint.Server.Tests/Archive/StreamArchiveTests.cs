using PublishingPoint.Media.IsoBmff;
using PublishingPoint.Server.Archive;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Archive;

/// <summary>What an archive file looks like on disk after the calls ingest makes in the order it makes them.</summary>
public sealed class StreamArchiveTests
{
    [Fact]
    public void DeferredSync_AfterARolloverSealedTheFile_KeepsItsMfra_AndOpensNoWriter()
    {
        // Low-latency ingest appends without fsync and syncs once the chunk is listed; a rollover may seal the file between.
        var folder = TempDirectory.Create("pp-archive-sync");
        using var files = new ArchiveFiles(4);
        var path = Path.Combine(folder, "a.ismv");
        using var archive = StreamArchive.Create(path, Header(), fsync: true, files);
        archive.Append(Box("moof", 24), 1, 0, sync: false);
        archive.Seal();

        archive.Sync();

        Assert.True(archive.IsFinalized);
        Assert.False(archive.IsOpenForWriting);
        Assert.Equal(["free", "moof", "mfra"], Boxes.TopLevel(File.ReadAllBytes(path)).Select(b => b.Type));
    }

    private static ArchiveHeader Header() => new()
    {
        Bytes = Box("free", 8),
        Moov = Box("moov", 8),
        Tracks = [new TrackInfo { TrackId = 1, Kind = TrackKind.Video, Timescale = 90000, SampleEntry = FourCC.From("avc1"), TrakBox = ReadOnlyMemory<byte>.Empty }],
        Manifest = [],
    };

    private static byte[] Box(string type, int size)
    {
        var bytes = new byte[size];
        bytes[3] = (byte)size;
        System.Text.Encoding.ASCII.GetBytes(type).CopyTo(bytes, 4);
        return bytes;
    }
}
