using PublishingPoint.Server.Archive;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Archive;

/// <summary>The archive's read handles: bounded, never closed under a reader, closed when their file is forgotten.</summary>
public sealed class ArchiveFilesTests
{
    [Fact]
    public async Task ManyReadersOfManyFiles_NeverHaveTheirHandleClosedUnderThem_AndTheSetShrinksBackToItsCapacity()
    {
        const int Capacity = 8;
        var folder = TempDirectory.Create("pp-archive-files");
        var paths = Enumerable.Range(0, 40).Select(i => Path.Combine(folder, $"{i}.ismv")).ToArray();
        for (var i = 0; i < paths.Length; i++)
        {
            await File.WriteAllBytesAsync(paths[i], [(byte)i, (byte)i, (byte)i, (byte)i]);
        }

        using var files = new ArchiveFiles(Capacity);
        var failures = 0;
        await Task.WhenAll(Enumerable.Range(0, 8).Select(reader => Task.Run(() =>
        {
            var random = new Random(reader);
            var buffer = new byte[4];
            for (var i = 0; i < 5000; i++)
            {
                var file = random.Next(paths.Length);
                using var lease = files.Acquire(paths[file]);
                // A handle closed by an eviction under this lease would throw here (ObjectDisposedException).
                var read = RandomAccess.Read(lease.Handle, buffer, 0);
                if (read != 4 || buffer[0] != file)
                {
                    Interlocked.Increment(ref failures);
                }
            }
        })));

        Assert.Equal(0, failures);
        Assert.InRange(files.OpenCount, 1, Capacity);
        Assert.InRange(OpenFiles.Under(folder), 1, Capacity);
    }

    [Fact]
    public async Task ForgottenFile_StaysReadableByItsReader_AndIsClosedWhenTheLastOneIsDone()
    {
        var folder = TempDirectory.Create("pp-archive-files");
        var path = Path.Combine(folder, "a.ismv");
        await File.WriteAllBytesAsync(path, [1, 2, 3]);
        using var files = new ArchiveFiles(4);

        var lease = files.Acquire(path);
        files.Forget(path);
        Assert.Equal(0, files.OpenCount);
        Assert.Equal(3, RandomAccess.Read(lease.Handle, new byte[3], 0));
        Assert.False(lease.Handle.IsClosed);
        lease.Dispose();
        Assert.True(lease.Handle.IsClosed);

        using var again = files.Acquire(path);
        Assert.False(again.Handle.IsClosed);
        Assert.Equal(1, files.OpenCount);
    }
}
