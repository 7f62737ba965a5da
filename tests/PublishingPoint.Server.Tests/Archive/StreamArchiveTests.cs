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

    /// <summary>
    /// Two failed fsyncs in a row cut the fragments appended before their sync off the file. The index may still list
    /// them (a low-latency segment is listed before its fsync), so the file takes no more fragments: new ones would take
    /// the cut ones' offsets and be read as them. Reads there say the fragment is gone; the mfra can still be written.
    /// </summary>
    [Fact]
    public void AFileCutAfterTwoFailedFsyncs_TakesNoMoreFragments_AndReadsThereSayGone()
    {
        var folder = TempDirectory.Create("pp-archive-cut");
        using var files = new ArchiveFiles(4);
        var path = Path.Combine(folder, "a.ismv");
        using var archive = StreamArchive.Create(path, Header(), fsync: true, files);
        archive.Append(Box("moof", 24), 1, 0, sync: true);
        var durable = new FileInfo(path).Length;
        var cutAt = archive.Append(Box("moof", 32), 1, 1000, sync: false);
        files.SyncFault = (_, _) => true;

        Assert.Throws<IOException>(archive.Sync);

        files.SyncFault = null;
        Assert.True(archive.WasCut);
        Assert.Equal(durable, new FileInfo(path).Length);
        Assert.Equal(durable, archive.Length);
        Assert.Throws<IOException>(() => archive.Append(Box("moof", 40), 1, 2000, sync: true));
        Assert.Throws<ArchiveGoneException>(() => archive.Read(cutAt, new byte[32]));
        archive.Seal();
        Assert.Equal(["free", "moof", "mfra"], Boxes.TopLevel(File.ReadAllBytes(path)).Select(b => b.Type));
    }

    /// <summary>
    /// Read handles were kept by file path and an archive read on after it was disposed: a request still holding a
    /// fragment of a point deleted or restarted on reconnect opened the new file at that path (a new presentation's
    /// archive under the same name) and read its bytes at the old offsets; a handle opened in that race stayed in the
    /// set under the path and served the old file to the new archive (a review's finding). A disposed archive's reads
    /// say it is gone, and each archive's handles are its own.
    /// </summary>
    [Fact]
    public void ADisposedArchive_ReadsNothingOfTheFileThatTookItsPath()
    {
        var folder = TempDirectory.Create("pp-archive-reuse");
        using var files = new ArchiveFiles(4);
        var path = Path.Combine(folder, "a.ismv");
        var old = StreamArchive.Create(path, Header(), fsync: false, files);
        old.Append(Box("moof", 24), 1, 0);
        var buffer = new byte[4];
        old.Read(12, buffer);
        Assert.Equal("moof", System.Text.Encoding.ASCII.GetString(buffer));

        old.Dispose();
        Directory.CreateDirectory(Path.Combine(folder, "previous-1"));
        File.Move(path, Path.Combine(folder, "previous-1", "a.ismv"));
        using var fresh = StreamArchive.Create(path, Header(), fsync: false, files);
        fresh.Append(Box("mdat", 24), 1, 0);

        Assert.Throws<ArchiveGoneException>(() => old.Read(12, buffer));
        fresh.Read(12, buffer);
        Assert.Equal("mdat", System.Text.Encoding.ASCII.GetString(buffer));
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
