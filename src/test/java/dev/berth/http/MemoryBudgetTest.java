package dev.berth.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.berth.oci.ErrorCode;
import dev.berth.oci.RegistryException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

class MemoryBudgetTest {
    @Test
    void refusesWorkBeyondTheBudgetWith429AndReleasesWhenDone() throws Exception {
        MemoryBudget budget = new MemoryBudget(8 * 1024 * MemoryBudget.PARSE_OVERHEAD);
        CountDownLatch inside = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        try (var pool = Executors.newVirtualThreadPerTaskExecutor()) {
            Future<String> holder = pool.submit(() -> budget.within(8 * 1024, () -> {
                inside.countDown();
                release.await();
                return "done";
            }));
            inside.await();
            assertThatThrownBy(() -> budget.within(1024, () -> "never"))
                    .isInstanceOfSatisfying(RegistryException.class, e -> {
                        assertThat(e.code()).isEqualTo(ErrorCode.TOOMANYREQUESTS);
                        assertThat(e.status()).isEqualTo(429);
                        assertThat(e.headers()).containsKey("Retry-After");
                    });
            release.countDown();
            assertThat(holder.get()).isEqualTo("done");
            assertThat(budget.within(8 * 1024, () -> "again")).isEqualTo("again");
        }
    }
}
